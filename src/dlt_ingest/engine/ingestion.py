"""The library core behind `ingest run` and the Databricks entry: plan the run, take the locks, run the
jobs, write the records. `dlt_ingest.run` and `dlt_ingest.plan` are these functions."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from dlt.common.runtime import signals

from dlt_ingest.engine.catalog import register_in_catalog
from dlt_ingest.engine.job import JobContext
from dlt_ingest.engine.locks import job_locks
from dlt_ingest.engine.orchestrator import Orchestrator, RunObserver
from dlt_ingest.engine.plan import PlannedJob, RunOptions, plan_jobs, plan_run, require_jobs
from dlt_ingest.engine.reconcile import ReconcilePolicy
from dlt_ingest.records.after_run import finish_run
from dlt_ingest.records.audit import AuditWriter
from dlt_ingest.records.run_logs import open_run_logs
from dlt_ingest.records.staging import DurableOutputs
from dlt_ingest.results import RunReport
from dlt_ingest.secrets.permissions import secrets_file_warnings
from dlt_ingest.storage import shown_location

log = logging.getLogger("dlt_ingest.run")


def new_run_id(started: datetime) -> str:
    return f"{started.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"


def plan(options: RunOptions) -> list[PlannedJob]:
    """What `run` would do with these options: validates everything, connects to nothing, writes nothing."""
    return plan_jobs(options)


def run(options: RunOptions, observer: RunObserver | None = None) -> RunReport:
    """Run the selected jobs of the workbook; the report's `exit_code` is what the CLI exits with.

    Raises `ConfigError` (and other `IngestError`s with exit code 2) before any job runs when the input
    is wrong; a failing job never raises, it is a FAILED result. SIGINT/SIGTERM are intercepted (in the
    main thread) the way dlt does it: the first signal lets running jobs stop at dlt's next checkpoint
    (recorded INTERRUPTED) and skips jobs not started; a second one stops at once.
    """
    planned = plan_run(options)
    require_jobs(planned)
    settings, destination, jobs = planned.settings, planned.destination, planned.jobs
    destination.preflight(options.create_container or settings.create_container)  # exit 2, nothing ran
    durable = DurableOutputs.plan(settings.log_dir, settings.audit_dir)  # bucket/volume: staged, published at the end
    started = datetime.now()
    run_id = new_run_id(started)
    Path(settings.working_dir).mkdir(parents=True, exist_ok=True)
    locks = ExitStack()  # one run per job: refuses before any log or audit row is written
    with ExitStack() as taking:
        taking.enter_context(locks)  # a refused lease lets go of the locks already taken
        locks.enter_context(job_locks(jobs, settings.working_dir))
        locks.enter_context(destination.lease(jobs, run_id, settings.lake_lease_seconds,  # every machine
                                              settings.lake_lease_wait_seconds))   # on this lake
        taking.pop_all()
    suffix = f"_{options.slice_name}" if options.slice_name else ""  # parallel slices never share a file
    logs = open_run_logs(durable.logs.local, destination.kind, started, suffix)
    audit = AuditWriter(durable.audit.local, suffix)
    report = RunReport(run_id, started, log_file=shown_location(durable.logs.final_path(logs.main_file)),
                       audit_file=shown_location(durable.audit.final_path(audit.path_for(started))))
    clock = time.monotonic()
    try:
        log.info("Run %s: %d job(s) of %s into %s with %d worker(s); project folder %s", run_id, len(jobs),
                 planned.workbook_path, destination.describe(), settings.workers, planned.project)
        for warning in secrets_file_warnings():
            log.warning(warning)
        context = JobContext(destination, settings.working_dir, ReconcilePolicy.from_settings(settings),
                             options.reset_state, settings.current_tables,
                             observer.collector if observer is not None else None)
        orchestrator = Orchestrator(settings, context, audit, logs, run_id, observer)
        with signals.intercepted_signals():
            report.results = orchestrator.run(jobs, settings.workers)
        report.duration_seconds = round(time.monotonic() - clock, 3)
        log.info("Run %s finished: %d succeeded, %d failed, %s rows in %.1fs", run_id,
                 len(report.succeeded), len(report.failed), f"{report.total_rows:,}", report.duration_seconds)
        report.notes += register_in_catalog(report, planned.catalog, destination)
        finish_run(report, settings.audit_dir, planned.workbook_path if options.write_back else None)
    finally:
        logs.close()
        locks.close()
        report.notes += durable.publish()
    return report
