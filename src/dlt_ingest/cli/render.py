"""How runs look on a console: a live progress display on a terminal, plain lines elsewhere."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from dlt.common.runtime.collector import Collector
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

import dlt_ingest
from dlt_ingest.cli.console import Debug, console, guarded
from dlt_ingest.engine.plan import PlannedJob, RunOptions
from dlt_ingest.records.run_logs import ConsoleLineHandler
from dlt_ingest.redaction import redact
from dlt_ingest.results import JobResult, JobStatus, RunReport
from dlt_ingest.workbook.model import Job


class LiveProgress:
    """Jobs done/total, the jobs running now and rows so far, redrawn in place on a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._total = 0
        self._running: dict[str, int] = {}
        self._done: list[JobResult] = []
        self._live = Live(console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._live.stop()

    def _render(self) -> Group:
        failed = sum(1 for r in self._done if not r.ok)
        rows = sum(r.rows for r in self._done)
        head = Text(f"Jobs {len(self._done)}/{self._total} done, {failed} failed, {rows:,} rows")
        running = Table.grid(padding=(0, 2))
        for name, attempt in sorted(self._running.items()):
            running.add_row("  running", escape(name), f"attempt {attempt}" if attempt > 1 else "")
        return Group(head, running)

    def run_started(self, jobs: Sequence[Job]) -> None:
        with self._lock:
            self._total = len(jobs)
            self._live.update(self._render())

    def job_started(self, job: Job, attempt: int) -> None:
        with self._lock:
            self._running[job.name] = attempt
            self._live.update(self._render())

    def collector(self, job: Job) -> Collector | None:
        return None

    def job_finished(self, result: JobResult) -> None:
        with self._lock:
            self._running.pop(result.job.name, None)
            self._done.append(result)
            mark = {JobStatus.SUCCESS: "[green]OK[/green]", JobStatus.SKIPPED: "[yellow]SKIPPED[/yellow]"}.get(
                result.status, f"[red]{result.status.value}[/red]")
            detail = escape(f"{result.job.name}: {result.rows:,} rows in {result.duration_seconds:.1f}s"
                            + (f" - {redact(result.error)}" if result.error else ""))
            self.console.print(f"{mark} {detail}")
            self._live.update(self._render())


class TerminalLogFilter(logging.Filter):
    """On a terminal the progress display shows the flow; only warnings and errors print as lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


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
    job, CI, a pipe) gets every log line, timestamped.
    """
    handler = ConsoleLineHandler(tracebacks=Debug.enabled)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        if console.is_terminal:
            handler.addFilter(TerminalLogFilter())
            with LiveProgress(console) as progress:
                report = guarded(lambda: dlt_ingest.run(options, progress))
        else:
            report = guarded(lambda: dlt_ingest.run(options))
    finally:
        root.removeHandler(handler)
    print_summary(console, report)
    return report.exit_code
