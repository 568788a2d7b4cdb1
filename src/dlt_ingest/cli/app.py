"""The `ingest` command: each command parses its options, calls the library core and renders the result."""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import dlt_ingest
from dlt_ingest.cli.console import STATUS_WIDTH, Debug, console, err_console, fail, guarded, quiet_library_logs
from dlt_ingest.cli.options import (
    AuditDirOption,
    ConfigOption,
    CreateContainerOption,
    DebugOption,
    DryRunOption,
    ExcludeOption,
    IngestCommand,
    IngestGroup,
    LogDirOption,
    ProjectDirOption,
    ResetStateOption,
    SelectOption,
    WorkersOption,
    WriteBackOption,
    run_options,
)
from dlt_ingest.cli.render import plan_table, run_with_output, status_lines, status_table
from dlt_ingest.cli.secrets import print_secrets_check, secrets_app
from dlt_ingest.engine.connections import check_against_sources, check_connections
from dlt_ingest.engine.new_project import NewProject, create_project
from dlt_ingest.engine.plan import RunOptions
from dlt_ingest.errors import WorkbookValidationError
from dlt_ingest.records.status import last_runs
from dlt_ingest.records.trend import write_trend_report
from dlt_ingest.redaction import install_log_redaction, redact
from dlt_ingest.secrets.chain import open_project
from dlt_ingest.secrets.permissions import secrets_file_warnings
from dlt_ingest.settings import IngestSettings
from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook import DEFAULT_WORKBOOK, WorkbookConfig
from dlt_ingest.workbook.template import init_workbook

app = typer.Typer(
    name="ingest",
    cls=IngestGroup,
    help="Config-driven batch ingestion into a date-partitioned Parquet lake, built on dlt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(secrets_app, name="secrets")


@app.callback()
def main_options(debug: DebugOption = False) -> None:
    install_log_redaction()  # before any command logs: a library's warning reaches stderr redacted too
    quiet_library_logs()
    if debug:
        Debug.enable()


def _debug(flag: bool) -> None:
    if flag:
        Debug.enable()


def _print_warnings(workbook: WorkbookConfig) -> None:
    for text in secrets_file_warnings():
        err_console.print(f"warning: {text}", style="yellow", markup=False)
    for warning in workbook.warnings:
        err_console.print(f"warning: {warning}", style="yellow", markup=False)


def _jobs_table(workbook: WorkbookConfig) -> Table:
    table = Table(title=f"{len(workbook.jobs)} enabled job(s) in {workbook.path}")
    for column in ("row", "job", "source_type", "load_type", "watermark", "lake folder"):
        table.add_column(column)
    for job in workbook.jobs:
        watermark = ""
        if job.is_incremental and job.last_watermark is not None:
            watermark = f"{job.watermark_column} >= {job.last_watermark}"
        elif job.is_incremental:
            watermark = f"{job.watermark_column}: every row on the first run"
        table.add_row(str(job.row), escape(job.name), job.source_type, job.load_type.value, escape(watermark),
                      f"{job.dataset_name}/{job.lake_table}")
    return table


@app.command("validate-config", cls=IngestCommand)
def validate_config(
    config: ConfigOption = None,
    project_dir: ProjectDirOption = None,
    check_secrets: Annotated[bool, typer.Option(
        "--check-secrets", help="Also resolve every enabled job's credentials and show which store holds each.")]
    = False,
    check_sources: Annotated[bool, typer.Option(
        "--check-sources", help="Also check every enabled row against its source's catalog: tables, columns, "
                                "column types and backends (reads no rows).")] = False,
    debug: DebugOption = False,
) -> None:
    """Check the workbook and list its enabled jobs. Exit 0 valid, 2 invalid, 1 a source could not be reached."""
    _debug(debug)
    workbook = guarded(lambda: dlt_ingest.load_jobs(config, project_dir))
    _print_warnings(workbook)
    console.print(_jobs_table(workbook))
    if not workbook.jobs:
        err_console.print(f"warning: no row of {workbook.path} is enabled, so `ingest run` has nothing to run: set "
                          f"enabled to Y on the rows to run", style="yellow", markup=False)
    if check_secrets:
        print_secrets_check(workbook.jobs)
    if check_sources:
        _check_sources(workbook)
    console.print(f"[green]{escape(workbook.path)} is valid.[/green]")


def _check_sources(workbook: WorkbookConfig) -> None:
    found = guarded(lambda: check_against_sources(workbook))
    for check in found.unreachable:
        err_console.print(f"[red]could not check the rows of source {escape(check.name)}:[/red] "
                          f"{escape(redact(check.detail))}")
    if found.problems:
        fail(WorkbookValidationError(workbook.path, found.problems))
    if found.unreachable:
        raise typer.Exit(1)


def _print_new_project(project: NewProject, typed: str) -> None:
    console.print(f"Project folder {escape(str(project.folder))}:", markup=True)
    for name in project.written:
        console.print(f"  wrote {name}", markup=False)
    for name in project.kept:
        console.print(f"  kept  {name} (it already existed)", markup=False)
    go = "" if Path(typed).resolve() == Path.cwd().resolve() else f"cd {typed} && "
    console.print("Next steps:", markup=False)
    for step in (
        f"1. Edit {DEFAULT_WORKBOOK}: one row per table or endpoint; the example rows are disabled, set enabled "
        "to Y on the ones you keep (docs/configuration.md).",
        "2. Put each source's credentials under [sources.<source_name>] in .dlt/secrets.toml (docs/secrets.md).",
        f"3. {go}ingest validate-config --check-secrets --check-sources",
        f"4. {go}ingest run       (from any folder: ingest run --project-dir {project.folder})",
    ):
        console.print(f"  {step}", markup=False)


@app.command("init", cls=IngestCommand)
def init(
    folder: Annotated[str, typer.Argument(help="The project folder to create (or complete).")] = ".",
) -> None:
    """Start a project: a workbook of disabled examples, .dlt/config.toml, a .dlt/secrets.toml template, .gitignore."""
    project = guarded(lambda: create_project(folder))
    _print_new_project(project, folder)


@app.command("init-config", cls=IngestCommand)
def init_config(
    path: Annotated[str, typer.Argument(help="Where to write the workbook (.xlsx).")] = DEFAULT_WORKBOOK,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Add the enabled rows of the SQLite demo (./scripts/demo).")]
    = False,
) -> None:
    """Write a fresh workbook: headers with comments, drop-downs, one disabled example row per source type."""
    guarded(lambda: init_workbook(path, REGISTRY.known_types(), force, demo))
    console.print(f"[green]Wrote {escape(path)}[/green] (check it with: ingest validate-config --config "
                  f"{escape(path)})")


@app.command("run", cls=IngestCommand)
def run(
    config: ConfigOption = None,
    project_dir: ProjectDirOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    workers: WorkersOption = None,
    log_dir: LogDirOption = None,
    audit_dir: AuditDirOption = None,
    dry_run: DryRunOption = False,
    reset_state: ResetStateOption = False,
    create_container: CreateContainerOption = False,
    write_back: WriteBackOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the enabled jobs of the workbook. Exit 0 all succeeded, 1 a job failed, 2 bad config."""
    _debug(debug)
    options = run_options(locals())
    if dry_run:
        plan = guarded(lambda: dlt_ingest.plan(options))
        console.print(plan_table(plan))
        return
    raise typer.Exit(run_with_output(options))


def _audit_dir(audit_dir: str | None, project_dir: str | None) -> str:
    project = open_project(project_dir)  # also the secret providers, for an audit folder in a bucket
    return audit_dir or IngestSettings.load(project).audit_dir


@app.command("report", cls=IngestCommand)
def report(
    days: Annotated[int, typer.Option(help="How many days back, today included.")] = 7,
    audit_dir: AuditDirOption = None,
    project_dir: ProjectDirOption = None,
    output: Annotated[str | None, typer.Option(help="Where to write the page (default in the audit folder).",
                                               show_default=False)] = None,
) -> None:
    """Render rows and durations per job per day from the audit files into one HTML page; print its path."""
    path = guarded(lambda: write_trend_report(_audit_dir(audit_dir, project_dir), days, output))
    console.print(f"Report: {escape(path)}")


STATUS_FIELDS = ("job_name", "status", "rows_processed", "duration_seconds", "timestamp", "watermark_end",
                 "error_message", "warnings", "run_id")


@app.command("status", cls=IngestCommand)
def status(
    audit_dir: AuditDirOption = None,
    project_dir: ProjectDirOption = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only jobs whose last run failed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per job instead of the table.")] = False,
) -> None:
    """Per job, the last run's status, rows, time and watermark, read from the audit files."""
    rows = guarded(lambda: last_runs(_audit_dir(audit_dir, project_dir), failed_only=failed))
    if as_json:
        typer.echo(json.dumps([{name: redact(row.get(name) or "") for name in STATUS_FIELDS} for row in rows],
                              indent=2, ensure_ascii=False))
        return
    if console.is_terminal:
        console.print(status_table(rows))
        return
    for line in status_lines(rows, STATUS_WIDTH):  # a pipe or a job log: 80 columns
        console.print(line, markup=False)


@app.command("test-connections", cls=IngestCommand)
def test_connections(
    config: ConfigOption = None,
    project_dir: ProjectDirOption = None,
    select: SelectOption = None,
    debug: DebugOption = False,
) -> None:
    """Connect to each selected source and check the lake is writable. Exit 1 if any check failed."""
    _debug(debug)
    options = RunOptions(config_path=config, project_dir=project_dir, select=tuple(select or ()))
    checks = guarded(lambda: check_connections(options))
    table = Table(title="Connection tests")
    for column in ("target", "kind", "result", "detail"):
        table.add_column(column)
    for check in checks:
        table.add_row(escape(check.name), check.kind, "[green]OK[/green]" if check.ok else "[red]FAILED[/red]",
                      escape(redact(check.detail)))
    console.print(table)
    raise typer.Exit(0 if all(c.ok for c in checks) else 1)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point.

    dlt's anonymous telemetry is off unless configured (the CLI often runs where there is no internet).
    The ~150,000 objects dlt and its libraries create at import live as long as the process; freezing them
    keeps Python's full garbage collections (~0.1 s each) and the interpreter's teardown from walking them
    again and again: about 0.5 s of every `ingest run` on a 2-core machine.
    """
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    gc.freeze()
    try:
        return app(args=argv if argv is not None else sys.argv[1:], prog_name="ingest")
    finally:
        gc.freeze()  # the process exits next: no collection needs to revisit what the run created
