"""The run: pick jobs, run them one by one or in a thread pool, record every outcome, summarise.

This is the library core behind `ingest run`; a Databricks job calls `run_ingestion` directly.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from dlt.common.exceptions import SignalReceivedException
from dlt.common.runtime import signals

from dlt_ingest.audit import AuditWriter
from dlt_ingest.config import DEFAULT_WORKBOOK, Job, WorkbookConfig, load_workbook
from dlt_ingest.destinations.filesystem import LakeTarget, lake_target
from dlt_ingest.destinations.preflight import check_lake
from dlt_ingest.durable import DurableOutputs
from dlt_ingest.errors import ConfigError
from dlt_ingest.job_runner import JobResult, JobStatus, incremental_state, one_line_reason, run_job
from dlt_ingest.locks import job_locks
from dlt_ingest.logging import RunLogs, job_context, open_run_logs
from dlt_ingest.post_run import finish_run
from dlt_ingest.reconcile import ReconcilePolicy, reconcile
from dlt_ingest.retry import RetryPolicy, wait
from dlt_ingest.secrets.names import declare_sources
from dlt_ingest.secrets.permissions import secrets_file_warnings
from dlt_ingest.settings import IngestSettings

log = logging.getLogger("dlt_ingest.run")

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


@dataclass
class RunOptions:
    config_path: str = DEFAULT_WORKBOOK
    select: Sequence[str] = ()
    exclude: Sequence[str] = ()
    workers: int | None = None
    dry_run: bool = False
    reset_state: bool = False
    log_dir: str | None = None
    audit_dir: str | None = None
    bucket_url: str | None = None
    create_container: bool = False
    write_back: bool = False  # update last_run_* and last_watermark in the workbook


@dataclass
class RunReport:
    run_id: str
    started_at: datetime
    results: list[JobResult] = field(default_factory=list)
    duration_seconds: float = 0.0
    log_file: str = ""
    audit_file: str = ""
    report_file: str = ""
    notes: list[str] = field(default_factory=list)  # what happened after the jobs (write-back, notifications)

    @property
    def succeeded(self) -> list[JobResult]:
        return [r for r in self.results if r.status is JobStatus.SUCCESS]

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status in (JobStatus.FAILED, JobStatus.INTERRUPTED)]

    @property
    def total_rows(self) -> int:
        return sum(r.rows for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _matches(job: Job, pattern: str) -> bool:
    if pattern.startswith("source:"):
        return fnmatch.fnmatchcase(job.source_name.lower(), pattern[7:].lower())
    if pattern.startswith("type:"):
        return fnmatch.fnmatchcase(job.source_type, pattern[5:].lower())
    return fnmatch.fnmatchcase(job.name.lower(), pattern.lower())


def select_jobs(jobs: Sequence[Job], select: Sequence[str], exclude: Sequence[str]) -> list[Job]:
    """Filter jobs by globs on job names, `source:NAME` and `type:TYPE`."""
    chosen = [j for j in jobs if not select or any(_matches(j, p) for p in select)]
    chosen = [j for j in chosen if not any(_matches(j, p) for p in exclude)]
    if select and not chosen:
        names = ", ".join(j.name for j in jobs) or "none"
        raise ConfigError(f"--select {' '.join(select)} matches no enabled job (enabled jobs: {names})")
    return chosen


def audit_row(result: JobResult, run_id: str) -> dict[str, Any]:
    job = result.job
    return {
        "timestamp": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "job_name": job.name,
        "status": result.status.value,
        "rows_processed": result.rows,
        "duration_seconds": result.duration_seconds,
        "partition_path": result.partition_path,
        "error_message": result.error,
        "run_id": run_id,
        "source_type": job.source_type,
        "load_type": job.load_type.value,
        "load_id": result.load_id,
        "watermark_start": result.watermark_start,
        "watermark_end": result.watermark_end,
        "schema_version": result.schema_version,
        "schema_changed": result.schema_changed,
        "attempts": result.attempts,
        "child_tables": ";".join(f"{k}={v}" for k, v in sorted(result.child_rows.items())),
        "warnings": " | ".join(result.warnings),
        "source_count": result.source_count,
        "lake_count": result.lake_count,
        "reconciliation": result.reconciliation,
    }


class RunObserver(Protocol):
    """Told about each job as it starts and ends (the CLI's progress display is one)."""

    def run_started(self, jobs: Sequence[Job]) -> None: ...

    def job_started(self, job: Job, attempt: int) -> None: ...

    def job_finished(self, result: JobResult) -> None: ...


class SilentObserver:
    def run_started(self, jobs: Sequence[Job]) -> None:
        pass

    def job_started(self, job: Job, attempt: int) -> None:
        pass

    def job_finished(self, result: JobResult) -> None:
        pass


class Orchestrator:
    """Runs a list of jobs against one lake and records each outcome."""

    def __init__(self, settings: IngestSettings, lake: LakeTarget, audit: AuditWriter, logs: RunLogs,
                 run_id: str, observer: RunObserver | None = None) -> None:
        self.settings = settings
        self.lake = lake
        self.audit = audit
        self.logs = logs
        self.run_id = run_id
        self.observer = observer or SilentObserver()
        self.reset_state = False
        self.retry = RetryPolicy(settings.retry_attempts, settings.retry_backoff_seconds)
        self.reconcile_policy = ReconcilePolicy.from_settings(settings)
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
                return run_job(job, self.lake, self.settings.working_dir, attempt, self.reset_state,
                               self.settings.current_tables)
            except Exception as exc:
                reason = one_line_reason(exc).removeprefix(f"{job.name}: ")  # the job is named next to it
                if isinstance(exc, SignalReceivedException) or signals.was_signal_received():
                    log.error("[INTERRUPTED] Job %s: stopped by a signal", job.name)
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
                log.error("[FAILED] Job %s: %s", job.name, reason, exc_info=True)
                return JobResult(job, JobStatus.FAILED, started, error=reason, attempts=attempt,
                                 duration_seconds=round(time.monotonic() - clock, 3))

    def execute(self, job: Job) -> JobResult:
        """Run one job in its own log context; never raises (a failure becomes a FAILED result)."""
        self.logs.add_source(job.source_name)
        with self._source_slot(job.source_name), job_context(job.source_name, job.name):
            started = datetime.now()
            if signals.was_signal_received():
                result = JobResult(job, JobStatus.SKIPPED, started, attempts=0,
                                   error="not started: the run was interrupted")
                self.audit.write(audit_row(result, self.run_id))
                self.observer.job_finished(result)
                return result
            clock = time.monotonic()
            log.info("Starting job: %s (%s, %s)", job.name, job.source_type, job.load_type.value)
            result = self._attempts(job, started, clock)
            reconcile(result, self.reconcile_policy)
            if result.ok:
                log.info("SUCCESS: %s processed %s rows in %.1fs", job.name, f"{result.rows:,}",
                         result.duration_seconds)
                for table, folder in result.written_folders.items():
                    log.info("  Partition: %s (%s)", folder, table, extra={"destination": True})
            self.audit.write(audit_row(result, self.run_id))
            self.observer.job_finished(result)
            return result

    def run(self, jobs: Sequence[Job], workers: int) -> list[JobResult]:
        self.observer.run_started(jobs)
        if workers <= 1:
            return [self.execute(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
            return list(pool.map(self.execute, jobs))


def new_run_id(started: datetime) -> str:
    return f"{started.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"


def plan_run(options: RunOptions) -> tuple[WorkbookConfig, list[Job], IngestSettings, LakeTarget]:
    """Everything a run needs before it touches anything: raises `ConfigError` on bad input."""
    workbook = load_workbook(options.config_path)
    declare_sources(job.source_name for job in workbook.jobs)  # decides who owns an ambiguous DLT_<NAME>_<KEY>
    jobs = select_jobs(workbook.jobs, options.select, options.exclude)
    settings = IngestSettings.load(workers=options.workers, log_dir=options.log_dir, audit_dir=options.audit_dir)
    if settings.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {settings.workers}")
    if options.reset_state and not options.select:
        raise ConfigError("--reset-state needs --select naming the job(s) whose stored cursor to forget")
    ReconcilePolicy.from_settings(settings)  # a bad [ingest] reconcile_action stops here, before any job
    lake = lake_target(options.bucket_url)
    return workbook, jobs, settings, lake


@dataclass(frozen=True)
class PlannedJob:
    job: Job
    watermark_start: str
    target_folder: str


def _local_watermark(job: Job, working_dir: str) -> str:
    """The cursor in dlt's local state, without contacting the lake (for --dry-run)."""
    import dlt
    from dlt.pipeline.exceptions import CannotRestorePipelineException

    if not job.is_incremental:
        return "(all rows)"
    pipeline = None
    if (Path(working_dir) / job.pipeline_name).is_dir():  # attach would create the folder otherwise
        try:
            pipeline = dlt.attach(pipeline_name=job.pipeline_name, pipelines_dir=working_dir)
        except CannotRestorePipelineException:
            pipeline = None
    state = incremental_state(pipeline) if pipeline is not None else None
    if state and state.get("last_value") is not None:
        return f"{job.watermark_column} >= {state['last_value']} (local state)"
    start = job.last_watermark if job.last_watermark is not None else "(beginning)"
    return f"{job.watermark_column} >= {start} (workbook; the lake's state wins if present)"


def plan_jobs(options: RunOptions) -> list[PlannedJob]:
    """What `ingest run` would do: validates everything, connects to nothing, writes nothing."""
    _, jobs, settings, lake = plan_run(options)
    today = datetime.now().strftime("%Y/%m/%d")
    return [
        PlannedJob(job, _local_watermark(job, settings.working_dir),
                   f"{lake.bucket_url.rstrip('/')}/{job.dataset_name}/{job.lake_table}/{today}/")
        for job in jobs
    ]


def run_ingestion(options: RunOptions, observer: RunObserver | None = None) -> RunReport:
    """Run the selected jobs of the workbook; the report's `exit_code` is what the CLI exits with.

    SIGINT/SIGTERM are intercepted (in the main thread) the way dlt does it: the first signal lets running
    jobs stop at dlt's next checkpoint (recorded INTERRUPTED) and skips jobs not started; a second one
    stops at once.
    """
    _, jobs, settings, lake = plan_run(options)
    check_lake(lake, options.create_container)  # once, before any job: exit 2 and nothing runs
    durable = DurableOutputs.plan(settings.log_dir, settings.audit_dir)  # bucket/volume: staged, published at the end
    started = datetime.now()
    run_id = new_run_id(started)
    Path(settings.working_dir).mkdir(parents=True, exist_ok=True)
    locks = ExitStack()  # one run per job: refuses before any log or audit row is written
    locks.enter_context(job_locks(jobs, settings.working_dir))
    destination_name = "local" if lake.is_local else "adls_gen2"
    logs = open_run_logs(durable.logs.local, destination_name, started)
    audit = AuditWriter(durable.audit.local)
    report = RunReport(run_id, started, log_file=durable.logs.final_path(logs.main_file),
                       audit_file=durable.audit.final_path(audit.path_for(started)))
    clock = time.monotonic()
    try:
        log.info("Run %s: %d job(s) into %s with %d worker(s)", run_id, len(jobs), lake.display(),
                 settings.workers)
        for warning in secrets_file_warnings():
            log.warning(warning)
        orchestrator = Orchestrator(settings, lake, audit, logs, run_id, observer)
        orchestrator.reset_state = options.reset_state
        with signals.intercepted_signals():
            report.results = orchestrator.run(jobs, settings.workers)
        report.duration_seconds = round(time.monotonic() - clock, 3)
        log.info("Run %s finished: %d succeeded, %d failed, %s rows in %.1fs", run_id,
                 len(report.succeeded), len(report.failed), f"{report.total_rows:,}", report.duration_seconds)
        finish_run(report, settings, options.config_path if options.write_back else None)
    finally:
        logs.close()
        locks.close()
        report.notes += durable.publish()
    return report
