"""The `ingest` command: parse arguments, call the core, print. No logic lives here."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dlt_ingest.cli_render import LiveProgress, TerminalLogFilter, plan_table, print_summary
from dlt_ingest.config import DEFAULT_WORKBOOK, WorkbookConfig, load_workbook
from dlt_ingest.connections import check_connections
from dlt_ingest.errors import IngestError, WorkbookValidationError
from dlt_ingest.logging import ConsoleLineHandler
from dlt_ingest.orchestrator import RunOptions, plan_jobs, run_ingestion
from dlt_ingest.secrets.permissions import secrets_file_warnings
from dlt_ingest.secrets.redaction import redact
from dlt_ingest.status import last_runs

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

app = typer.Typer(
    name="ingest",
    help="Config-driven batch ingestion into a date-partitioned Parquet lake, built on dlt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_PIPE_WIDTH = 1000  # a pipe or a job log has no width: never wrap table cells there
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_state: dict[str, bool] = {"debug": False}

T = TypeVar("T")
_PATTERN_HELP = "a glob on job names (postgres.*), source:NAME or type:TYPE; repeatable"

ConfigOption = Annotated[
    str, typer.Option("--config", "-c", help="Path of the workbook (.xlsx).", envvar="INGEST_CONFIG")
]


def _fail(exc: IngestError) -> None:
    if isinstance(exc, WorkbookValidationError):
        for problem in exc.problems:
            err_console.print(redact(problem), style="red", markup=False)
        count = len(exc.problems)
        err_console.print(f"{exc.path}: {count} problem{'s' if count != 1 else ''}; nothing was run.", style="red",
                          markup=False)
    else:
        err_console.print(f"Error: {redact(exc.message)}", style="red", markup=False)  # messages name [sections]
    raise typer.Exit(exc.exit_code)


def guarded(call: Callable[[], T]) -> T:
    """The one error boundary: expected errors become red lines and exit codes, tracebacks need --debug."""
    try:
        return call()
    except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise  # typer's own exits and usage errors pass through untouched
    except IngestError as exc:
        if _state["debug"]:
            logging.getLogger("dlt_ingest").exception("debug traceback")
        _fail(exc)
        raise  # unreachable: _fail exits
    except KeyboardInterrupt:
        err_console.print("[red]Interrupted.[/red]")
        raise typer.Exit(1) from None
    except Exception as exc:  # a bug, not the user's doing: one line, the traceback only with --debug
        if _state["debug"]:
            raise
        lines = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        err_console.print(f"Internal error: {redact(detail)}. Run again with --debug for the traceback and "
                          f"report it.", style="red", markup=False)
        raise typer.Exit(1) from None


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of expected errors.")] = False,
) -> None:
    _state["debug"] = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG)


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
        watermark = f"{job.watermark_column} >= {job.last_watermark}" if job.watermark_column else ""
        table.add_row(str(job.row), escape(job.name), job.source_type, job.load_type.value, escape(watermark),
                      f"{job.dataset_name}/{job.lake_table}")
    return table


@app.command("validate-config")
def validate_config(
    config: ConfigOption = DEFAULT_WORKBOOK,
    check_secrets: Annotated[bool, typer.Option(
        "--check-secrets", help="Also resolve every enabled job's credentials and show which store holds each.")]
    = False,
) -> None:
    """Check the workbook and list its enabled jobs. Exit 0 valid, 2 invalid."""
    workbook = guarded(lambda: load_workbook(config))
    _print_warnings(workbook)
    console.print(_jobs_table(workbook))
    if check_secrets:
        from dlt_ingest.cli_secrets import print_secrets_check

        print_secrets_check(workbook.jobs)
    console.print(f"[green]{config} is valid.[/green]")


@app.command("init-config")
def init_config(
    path: Annotated[str, typer.Argument(help="Where to write the workbook.")] = DEFAULT_WORKBOOK,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a fresh workbook: headers with comments, drop-downs, demo rows and one template row per type."""
    from dlt_ingest.config.template import init_workbook

    guarded(lambda: init_workbook(path, force))
    console.print(f"[green]Wrote {path}[/green] (check it with: ingest validate-config --config {path})")


@app.command("run")
def run(
    config: ConfigOption = DEFAULT_WORKBOOK,
    select: Annotated[list[str] | None, typer.Option(help=f"Only jobs matching {_PATTERN_HELP}.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help=f"Skip jobs matching {_PATTERN_HELP}.")] = None,
    workers: Annotated[int | None, typer.Option(help="Jobs run in parallel (1 = one by one).")] = None,
    log_dir: Annotated[str | None, typer.Option(help="Folder for the run's logs (default logs/).")] = None,
    audit_dir: Annotated[str | None, typer.Option(help="Folder for the audit CSV (default metadata/).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; connect to nothing, write nothing.")]
    = False,
    reset_state: Annotated[bool, typer.Option(
        "--reset-state", help="Forget the stored cursor of the --select'ed jobs; start from last_watermark.")] = False,
    create_container: Annotated[bool, typer.Option(
        "--create-container", help="Create the lake's Azure container when it does not exist.")] = False,
    write_back: Annotated[bool, typer.Option(
        "--write-back", help="Write last_run_date, last_run_status and last_watermark into the workbook.")] = False,
) -> None:
    """Run the enabled jobs of the workbook. Exit 0 all succeeded, 1 a job failed, 2 bad config."""
    options = RunOptions(config_path=config, select=select or (), exclude=exclude or (), workers=workers,
                         log_dir=log_dir, audit_dir=audit_dir, create_container=create_container,
                         reset_state=reset_state, write_back=write_back)
    if dry_run:
        plan = guarded(lambda: plan_jobs(options))
        console.print(plan_table(plan))
        return
    handler = ConsoleLineHandler(tracebacks=_state["debug"])
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        if console.is_terminal:
            handler.addFilter(TerminalLogFilter())
            with LiveProgress(console) as progress:
                report = guarded(lambda: run_ingestion(options, progress))
        else:
            report = guarded(lambda: run_ingestion(options))
    finally:
        root.removeHandler(handler)
    print_summary(console, report)
    raise typer.Exit(report.exit_code)


@app.command("report")
def report(
    days: Annotated[int, typer.Option(help="How many days back, today included.")] = 7,
    audit_dir: Annotated[str | None, typer.Option(help="Folder of the audit CSVs (default metadata/).")] = None,
    output: Annotated[str | None, typer.Option(help="Where to write the page (default in the audit folder).")]
    = None,
) -> None:
    """Render rows and durations per job per day from the audit files into one HTML page; print its path."""
    from dlt_ingest.report import write_trend_report

    path = guarded(lambda: write_trend_report(audit_dir, days, output))
    console.print(f"Report: {path}")


@app.command("status")
def status(
    audit_dir: Annotated[str | None, typer.Option(help="Folder of the audit CSVs (default metadata/).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only jobs whose last run failed.")] = False,
) -> None:
    """Per job, the last run's status, rows, time and watermark, read from the audit files."""
    rows = guarded(lambda: last_runs(audit_dir, failed_only=failed))
    table = Table(title=f"Last run per job ({len(rows)} job(s))")
    for column in ("job", "status", "rows", "finished", "watermark", "error"):
        table.add_column(column)
    for row in rows:
        style = "red" if row["status"] in ("FAILED", "INTERRUPTED") else None
        table.add_row(escape(row["job_name"]), row["status"], row["rows_processed"], row["timestamp"],
                      escape(row.get("watermark_end", "")), escape(redact(row.get("error_message", ""))), style=style)
    console.print(table)


@app.command("test-connections")
def test_connections(
    config: ConfigOption = DEFAULT_WORKBOOK,
    select: Annotated[list[str] | None, typer.Option(help=f"Only sources of jobs matching {_PATTERN_HELP}.")] = None,
) -> None:
    """Connect to each selected source and check the lake is writable. Exit 1 if any check failed."""
    checks = guarded(lambda: check_connections(RunOptions(config_path=config, select=select or ())))
    table = Table(title="Connection tests")
    for column in ("target", "kind", "result", "detail"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.name, check.kind, "[green]OK[/green]" if check.ok else "[red]FAILED[/red]",
                      escape(redact(check.detail)))
    console.print(table)
    raise typer.Exit(0 if all(c.ok for c in checks) else 1)


from dlt_ingest.cli_secrets import secrets_app  # noqa: E402  (sub-app imports `console` from here lazily)

app.add_typer(secrets_app, name="secrets")


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point.

    The ~150,000 objects dlt and its libraries create at import live as long as the process; freezing them
    keeps Python's full garbage collections (~0.1 s each) and the interpreter's teardown from walking them
    again and again: about 0.5 s of every `ingest run` on a 2-core machine.
    """
    gc.freeze()
    try:
        return app(args=argv if argv is not None else sys.argv[1:], prog_name="ingest")
    finally:
        gc.freeze()  # the process exits next: no collection needs to revisit what the run created
