"""How runs look on a console: a live progress display on a terminal, plain lines and heartbeats elsewhere."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import dlt_ingest
from dlt_ingest.cli.console import Debug, console, guarded
from dlt_ingest.cli.progress import LineProgress, LiveProgress
from dlt_ingest.engine.plan import PlannedJob, RunOptions
from dlt_ingest.records.run_logs import ConsoleLineHandler
from dlt_ingest.redaction import redact
from dlt_ingest.results import RunReport
from dlt_ingest.secrets.chain import open_project
from dlt_ingest.settings import IngestSettings


class TerminalLogFilter(logging.Filter):
    """On a terminal the progress display shows the flow and each job's outcome; only other warnings and
    errors print as lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING and not getattr(record, "job_outcome", False)


def print_summary(console: Console, report: RunReport) -> None:
    console.print("")
    console.print("=== Execution Summary ===")
    console.print(f"Run ID: {report.run_id}")
    console.print(f"Total Jobs: {len(report.results)}")
    console.print(f"Successful: {len(report.succeeded)}")
    console.print(f"Failed: {len(report.failed)}")
    if report.skipped:
        console.print(f"Skipped: {len(report.skipped)}")
    console.print(f"Rows: {report.total_rows:,}")
    if report.total_deleted:
        per_job = ", ".join(f"{r.job.name} {r.rows_deleted:,}" for r in report.results if r.rows_deleted)
        console.print(f"Deleted: {report.total_deleted:,} ({per_job})", markup=False)
    console.print(f"Duration: {report.duration_seconds:.1f}s")
    warned = [r for r in report.results if r.warnings or r.schema_changed]
    if warned:
        console.print("")
        console.print("Warnings:")
        for result in warned:
            for warning in result.warnings:
                console.print(f"  - {result.job.name}: {redact(warning)}", style="yellow", markup=False)
            if result.schema_changed:
                console.print(f"  - {result.job.name}: schema changed (version {result.schema_version}): "
                              f"{result.describe_schema_changes()}", style="yellow", markup=False)
    mismatched = [r for r in report.results if r.reconciliation == "MISMATCH"]
    if mismatched:
        console.print("")
        console.print("Row count mismatches:")
        for result in mismatched:
            console.print(f"  - {result.job.name}: source {result.source_count:,}, lake {result.lake_count:,}",
                          style="red" if not result.ok else "yellow")
    if report.failed:
        console.print("")
        console.print("Failed Jobs:")
        for result in report.failed:
            console.print(f"  - {result.job.name}: {redact(result.error)}", style="red", markup=False)
    console.print(f"Log: {report.log_file}")
    console.print(f"Audit: {report.audit_file}")
    if report.report_file:
        console.print(f"Report: {report.report_file}")
    for note in report.notes:
        console.print(f"Note: {redact(note)}", markup=False)


def plan_table(plan: Sequence[PlannedJob]) -> Table:
    table = Table(title=f"Dry run: {len(plan)} job(s) would run; nothing was connected or written")
    for column in ("job", "load type", "watermark start", "target folder"):
        table.add_column(column)
    for item in plan:
        table.add_row(escape(item.job.name), item.job.load_type.value, escape(item.watermark_start),
                      escape(item.target_folder))
    return table


def run_with_output(options: RunOptions) -> int:
    """Run through the public API with the output a person or a job log wants; returns the exit code.

    A terminal gets the live display and only warnings and errors as lines; anything else (a Databricks
    job, CI, a pipe) gets every log line, timestamped, and a heartbeat line every `[ingest] heartbeat_seconds`.
    """
    handler = ConsoleLineHandler(tracebacks=Debug.enabled)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        if console.is_terminal:
            handler.addFilter(TerminalLogFilter())
            with LiveProgress(console) as live:
                report = guarded(lambda: dlt_ingest.run(options, live))
        else:
            project = guarded(lambda: open_project(options.project_dir, options.config_path))
            seconds = guarded(lambda: IngestSettings.load(project).heartbeat_seconds)
            with LineProgress(seconds) as lines:
                report = guarded(lambda: dlt_ingest.run(options, lines))
    finally:
        root.removeHandler(handler)
    print_summary(console, report)
    return report.exit_code


def status_table(rows: Sequence[Mapping[str, str]]) -> Table:
    """`ingest status` on a terminal: one row per job, at the terminal's width."""
    table = Table(title=f"Last run per job ({len(rows)} job(s))")
    for column in ("job", "status", "rows", "finished", "watermark", "error"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for row in rows:
        style = "red" if row["status"] in ("FAILED", "INTERRUPTED") else None
        table.add_row(escape(row["job_name"]), row["status"], row["rows_processed"], row["timestamp"],
                      escape(row.get("watermark_end") or ""), escape(redact(row.get("error_message") or "")),
                      style=style)
    return table


def status_lines(rows: Sequence[Mapping[str, str]], width: int) -> list[str]:
    """`ingest status` in a pipe or a job log: a line per job that fits `width`, its watermark and error
    wrapped below it (`--json` has every field whole)."""
    lines = [f"Last run per job ({len(rows)} job(s))"]
    fields = max(1, width - 46)  # status 11, rows 11 and the time 19, with their gaps
    for row in rows:
        name, facts = row["job_name"], f"{row['status']:<11} {row['rows_processed']:>11}  {row['timestamp']}"
        if len(name) > fields:
            lines += [*textwrap.wrap(name, width), " " * (fields + 1) + facts]
        else:
            lines.append(f"{name:<{fields}} {facts}")
        for label in ("watermark_end", "error_message"):
            value = redact(row.get(label) or "")
            if value:
                lines += textwrap.wrap(f"{label.split('_')[0]}: {value}", width, initial_indent="    ",
                                       subsequent_indent="      ", break_on_hyphens=False)
    return lines
