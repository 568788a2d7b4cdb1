"""Progress while rows flow, from dlt's own progress collectors (`dlt.common.runtime.collector`).

Each job's pipeline gets a `JobRows` collector through the run observer: dlt counts the rows it extracts
into it. A terminal gets `LiveProgress` (a display redrawn in place: jobs done, each running job's rows and
elapsed time); anything else gets `LineProgress`, a heartbeat log line every `[ingest] heartbeat_seconds`
(a Databricks job log, CI or a pipe would otherwise show nothing during a long job).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from dlt.common.runtime.collector import Collector
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dlt_ingest.redaction import redact
from dlt_ingest.results import JobResult, JobStatus
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.progress")


class JobRows(Collector):
    """dlt's counters of one job's pipeline, reduced to what a person watches: rows of the job's table
    extracted so far (dlt's own tables and the other counters, files and load jobs, are left out)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.step = ""
        self.rows = 0

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if name == self.table and not label and self.step.startswith("Extract"):
            self.rows += inc

    def _start(self, step: str) -> None:
        self.step = step

    def _stop(self) -> None:
        self.step = ""


@dataclass
class _Running:
    attempt: int
    started: float
    rows: JobRows | None = None


@dataclass
class RunProgress:
    """What is known about the run so far; every observer method takes the lock."""

    total: int = 0
    done: list[JobResult] = field(default_factory=list)
    running: dict[str, _Running] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, job: Job, attempt: int) -> None:
        with self.lock:
            self.running[job.name] = _Running(attempt, time.monotonic())

    def collector(self, job: Job) -> JobRows:
        rows = JobRows(job.lake_table)
        with self.lock:
            running = self.running.get(job.name)
            if running is not None:
                running.rows = rows
        return rows

    def finish(self, result: JobResult) -> None:
        with self.lock:
            self.running.pop(result.job.name, None)
            self.done.append(result)

    def snapshot(self) -> tuple[int, int, int, list[tuple[str, int, float, int]]]:
        """(done, failed, rows so far, [(job, rows, seconds, attempt)] of the running jobs)."""
        now = time.monotonic()
        with self.lock:
            running = [(name, r.rows.rows if r.rows else 0, now - r.started, r.attempt)
                       for name, r in sorted(self.running.items())]
            failed = sum(1 for r in self.done if not r.ok and r.status is not JobStatus.SKIPPED)
            rows = sum(r.rows for r in self.done) + sum(item[1] for item in running)
            return len(self.done), failed, rows, running


class _ProgressObserver:
    """A run observer that keeps the `RunProgress` of the run and gives each job dlt's collector."""

    def __init__(self) -> None:
        self.progress = RunProgress()

    def run_started(self, jobs: Sequence[Job]) -> None:
        self.progress.total = len(jobs)

    def job_started(self, job: Job, attempt: int) -> None:
        self.progress.start(job, attempt)

    def collector(self, job: Job) -> Collector | None:
        return self.progress.collector(job)

    def job_finished(self, result: JobResult) -> None:
        self.progress.finish(result)


class LiveProgress(_ProgressObserver):
    """Jobs done/total, each running job with its rows and time so far, redrawn in place on a terminal."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self._live = Live(console=console, refresh_per_second=4, transient=True, get_renderable=self._render)

    def __enter__(self) -> LiveProgress:
        self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._live.stop()

    def _render(self) -> RenderableType:
        done, failed, rows, running = self.progress.snapshot()
        if not self.progress.total:
            return Text("Checking the workbook, the settings and the lake ...")
        head = Text(f"Jobs {done}/{self.progress.total} done, {failed} failed, {rows:,} rows")
        table = Table.grid(padding=(0, 2))
        for name, job_rows, seconds, attempt in running:
            table.add_row("  running", escape(name), f"{job_rows:,} rows", f"{seconds:.0f}s",
                          f"attempt {attempt}" if attempt > 1 else "")
        return Group(head, table)

    def job_finished(self, result: JobResult) -> None:
        super().job_finished(result)
        mark = {JobStatus.SUCCESS: "[green]OK[/green]", JobStatus.SKIPPED: "[yellow]SKIPPED[/yellow]"}.get(
            result.status, f"[red]{result.status.value}[/red]")
        warned = f" ({len(result.warnings)} warning(s), see the summary)" if result.warnings else ""
        detail = escape(f"{result.job.name}: {result.rows:,} rows in {result.duration_seconds:.1f}s{warned}"
                        + (f" - {redact(result.error)}" if result.error else ""))
        self.console.print(f"{mark} {detail}")


class LineProgress(_ProgressObserver):
    """No terminal: a heartbeat log line every `seconds` while jobs run (0 turns it off)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LineProgress:
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._beat, name="ingest-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def heartbeat_line(self) -> str:
        done, failed, rows, running = self.progress.snapshot()
        jobs = "; ".join(f"{name} {job_rows:,} rows for {seconds:.0f}s" for name, job_rows, seconds, _ in running)
        return (f"Heartbeat: {done}/{self.progress.total} job(s) done, {failed} failed, {rows:,} rows so far"
                + (f"; running: {jobs}" if jobs else ""))

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds):
            log.info(self.heartbeat_line())
