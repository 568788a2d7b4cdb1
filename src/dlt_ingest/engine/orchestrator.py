"""Running a list of jobs against one destination: one by one or in a thread pool, at most
`max_jobs_per_source` at a time against one source, each outcome recorded whatever happens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from dlt.common.exceptions import SignalReceivedException
from dlt.common.runtime import signals
from dlt.common.runtime.collector import Collector

from dlt_ingest.engine.job import JobContext, failure_reason, run_job
from dlt_ingest.engine.retry import RetryPolicy, wait
from dlt_ingest.engine.unchanged import UnchangedJobs, finish_unchanged
from dlt_ingest.errors import IngestError
from dlt_ingest.records.audit import AuditWriter
from dlt_ingest.records.run_logs import RunLogs, job_context, job_warnings
from dlt_ingest.results import JobResult, JobStatus
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.settings import IngestSettings
from dlt_ingest.sources import REGISTRY
from dlt_ingest.sources.base import SourceSession
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.run")
JOB_OUTCOME = {"job_outcome": True}  # a job's final line: a live display shows it its own way


class RunObserver(Protocol):
    """Told about each job as it starts and ends (the CLI's progress display is one)."""

    def run_started(self, jobs: Sequence[Job]) -> None: ...

    def job_started(self, job: Job, attempt: int) -> None: ...

    def job_finished(self, result: JobResult) -> None: ...

    def collector(self, job: Job) -> Collector | None:
        """A dlt progress collector for the job's pipeline (rows while they flow), or None."""
        ...


def worker_name(thread: str) -> str:
    """`worker 1`, `worker 2`, ... for the run timeline: the pool's threads are `ingest_0`, `ingest_1`, ..."""
    number = thread.rsplit("_", 1)[-1]
    return f"worker {int(number) + 1}" if thread.startswith("ingest_") and number.isdigit() else "worker 1"


class SilentObserver:
    def run_started(self, jobs: Sequence[Job]) -> None:
        pass

    def job_started(self, job: Job, attempt: int) -> None:
        pass

    def job_finished(self, result: JobResult) -> None:
        pass

    def collector(self, job: Job) -> Collector | None:
        return None


class SourceSessions:
    """One session per source for a run: its credentials resolved once (a missing secret fails every job of
    the source the same way, without asking the providers again), its connections shared by its jobs."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self._jobs = list(jobs)
        self._opened: dict[str, SourceSession[Any] | IngestError] = {}
        self._lock = threading.Lock()

    def get(self, job: Job) -> SourceSession[Any]:
        with self._lock:
            found = self._opened.get(job.source_name)
            if found is None:
                module = REGISTRY.get(job.source_type)
                try:
                    credentials = resolve_source_credentials(module.credentials_spec, job.source_name)
                    found = module.open_session(credentials.config,
                                                [j for j in self._jobs if j.source_name == job.source_name])
                except IngestError as exc:
                    found = exc
                self._opened[job.source_name] = found
        if isinstance(found, IngestError):
            raise found
        return found

    def close(self) -> None:
        with self._lock:
            for opened in self._opened.values():
                if isinstance(opened, SourceSession):
                    opened.close()
            self._opened.clear()


class Orchestrator:
    """Runs a list of jobs against one destination and records each outcome."""

    def __init__(self, settings: IngestSettings, context: JobContext, audit: AuditWriter, logs: RunLogs,
                 run_id: str, observer: RunObserver | None = None) -> None:
        self.settings = settings
        self.context = context
        self.audit = audit
        self.logs = logs
        self.run_id = run_id
        self.observer: RunObserver = observer or SilentObserver()
        self.retry = RetryPolicy(settings.retry_attempts, settings.retry_backoff_seconds)
        self.sessions = SourceSessions(())
        self.unchanged = UnchangedJobs((), context, self.sessions.get)
        self._per_source: dict[str, threading.Semaphore] = {}
        self._guard = threading.Lock()

    def _source_slot(self, source_name: str) -> threading.Semaphore:
        with self._guard:
            if source_name not in self._per_source:
                self._per_source[source_name] = threading.Semaphore(self.settings.max_jobs_per_source)
            return self._per_source[source_name]

    def _attempts(self, job: Job, started: datetime, clock: float) -> JobResult:
        attempt = 1
        while True:
            self.observer.job_started(job, attempt)
            try:
                unchanged = self.unchanged.take(job) if attempt == 1 else None
                if unchanged is not None:  # nothing new: finished without a pipeline
                    return finish_unchanged(job, unchanged, self.context.reconcile_policy)
                return run_job(job, self.sessions.get(job), self.context, attempt)
            except Exception as exc:
                reason = failure_reason(exc).removeprefix(f"{job.name}: ")  # the job is named next to it
                if isinstance(exc, SignalReceivedException) or signals.was_signal_received():
                    log.error("[INTERRUPTED] Job %s: stopped by a signal", job.name, extra=JOB_OUTCOME)
                    return JobResult(job, JobStatus.INTERRUPTED, started, attempts=attempt,
                                     error="interrupted by a signal; the next run continues from the stored state",
                                     duration_seconds=round(time.monotonic() - clock, 3))
                if self.retry.should_retry(attempt, exc):
                    delay = self.retry.delay_before(attempt + 1)
                    log.warning("Job %s attempt %d/%d failed (transient): %s; retrying in %.0fs", job.name,
                                attempt, self.retry.attempts, reason, delay)
                    wait(delay)
                    attempt += 1
                    continue
                log.error("[FAILED] Job %s: %s", job.name, reason, exc_info=True, extra=JOB_OUTCOME)
                return JobResult(job, JobStatus.FAILED, started, error=reason, attempts=attempt,
                                 duration_seconds=round(time.monotonic() - clock, 3))

    def _record(self, result: JobResult) -> JobResult:
        result.finished_at = datetime.now()
        result.worker = worker_name(threading.current_thread().name)
        self.audit.write_result(result, self.run_id)
        self.observer.job_finished(result)
        return result

    def execute(self, job: Job) -> JobResult:
        """Run one job in its own log context; never raises (a failure becomes a FAILED result)."""
        self.logs.add_source(job.source_name)
        with self._source_slot(job.source_name), job_context(job.source_name, job.name):
            started = datetime.now()
            if signals.was_signal_received():
                return self._record(JobResult(job, JobStatus.SKIPPED, started, attempts=0,
                                              error="not started: the run was interrupted"))
            clock = time.monotonic()
            log.info("Starting job: %s (%s, %s)", job.name, job.source_type, job.load_type.value)
            with job_warnings(job.name) as noticed:
                result = self._attempts(job, started, clock)
            result.started_at, result.duration_seconds = started, round(time.monotonic() - clock, 3)  # all attempts
            result.warnings += [w for w in noticed if w not in result.warnings]  # dlt's own, and the API paging's
            if result.ok:
                noted = f"; {len(result.warnings)} warning(s): {'; '.join(result.warnings)}" if result.warnings else ""
                log.info("SUCCESS: %s processed %s rows in %.1fs%s", job.name, f"{result.rows:,}",
                         result.duration_seconds, noted)
                for table, folder in result.written_folders.items():
                    log.info("  Partition: %s (%s)", folder, table, extra={"destination": True})
            return self._record(result)

    def run(self, jobs: Sequence[Job], workers: int) -> list[JobResult]:
        self.observer.run_started(jobs)
        self.sessions = SourceSessions(jobs)
        self.unchanged = UnchangedJobs(jobs, self.context, self.sessions.get)
        try:
            if workers <= 1:
                return [self.execute(job) for job in jobs]
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
                return list(pool.map(self.execute, jobs))
        finally:
            self.sessions.close()
