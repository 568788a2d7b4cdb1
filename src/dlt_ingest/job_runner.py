"""Running one job: its own dlt pipeline, state restored from the lake, facts read back from dlt."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.common.time import ensure_pendulum_datetime
from dlt.extract import DltResource, DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from dlt_ingest.config.model import Job
from dlt_ingest.destinations.filesystem import LakeTarget
from dlt_ingest.destinations.orphans import remove_orphan_files, remove_unfinished_states
from dlt_ingest.errors import IngestError, JobError, SourceError
from dlt_ingest.fault_points import pipeline_kwargs
from dlt_ingest.retry import is_transient
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.secrets.redaction import redact
from dlt_ingest.sources import REGISTRY

log = logging.getLogger("dlt_ingest.job")

# dlt keeps a local copy of every loaded file by default; on a nightly job of large tables that doubles the
# disk used each run. The lake holds the data: drop the local copy once a package is loaded (overridable).
os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")


class JobStatus(str, Enum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    INTERRUPTED = "INTERRUPTED"


@dataclass
class JobResult:
    job: Job
    status: JobStatus
    started_at: datetime
    duration_seconds: float = 0.0
    rows: int = 0
    child_rows: dict[str, int] = field(default_factory=dict)
    written_folders: dict[str, str] = field(default_factory=dict)
    partition_path: str = ""
    error: str = ""
    load_id: str = ""
    watermark_start: Any = None
    watermark_end: Any = None
    schema_version: int | None = None
    schema_changed: bool = False
    new_columns: list[str] = field(default_factory=list)
    attempts: int = 1
    warnings: list[str] = field(default_factory=list)
    credentials_from: list[str] = field(default_factory=list)
    watermark_from_state: bool = False  # the run resumed from a stored cursor (not the workbook's value)
    source_count: int | None = None  # row-count reconciliation (dlt_ingest.reconcile)
    lake_count: int | None = None
    reconciliation: str = ""  # MATCH, MISMATCH, ERROR, or empty when not checked

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.SUCCESS


_LAKE_STEPS = {"sync": "cannot read the stored state from the lake: ", "load": "cannot write to the lake: "}


def one_line_reason(exc: BaseException) -> str:
    """The most useful single line of an exception chain, with secrets masked."""
    if isinstance(exc, IngestError):
        return redact(exc.message.splitlines()[0] if "\n" not in exc.message else exc.message)
    root: BaseException = exc
    seen = set()
    while id(root) not in seen:
        seen.add(id(root))
        inner = getattr(root, "exception", None) if isinstance(root, PipelineStepFailed) else None
        inner = inner or root.__cause__ or getattr(root, "orig", None)
        if not isinstance(inner, BaseException):
            break
        if isinstance(inner, IngestError):
            return redact(inner.message)
        root = inner
    text = str(root).strip().splitlines()
    first = text[0] if text else ""
    step = exc.step if isinstance(exc, PipelineStepFailed) else ""
    where = _LAKE_STEPS.get(step, "")  # a storage error alone does not say it was the lake
    return redact(where + (f"{type(root).__name__}: {first}" if first else type(root).__name__))


def _lake_step(step: Callable[[dlt.Pipeline], Any], pipeline: dlt.Pipeline, kind: str = "sync") -> Any:
    """Run a step of ours that touches the lake; a storage failure reads like dlt's own step of that kind."""
    try:
        return step(pipeline)
    except IngestError:
        raise
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        error = JobError(redact(_LAKE_STEPS[kind] + type(exc).__name__ + (f": {lines[0]}" if lines else "")))
        error.transient = is_transient(exc)
        raise error from exc


def incremental_state(pipeline: dlt.Pipeline) -> dict[str, Any] | None:
    """The cursor state of the job's single incremental resource, if any."""
    sources = pipeline.state.get("sources", {})
    for source_state in sources.values():
        for resource_state in source_state.get("resources", {}).values():
            for cursor_state in resource_state.get("incremental", {}).values():
                return dict(cursor_state)
    return None


def _schema_facts(pipeline: dlt.Pipeline, table: str) -> tuple[int | None, set[str]]:
    """The default schema's version and the table's columns (one read: dlt reloads the schema file on each
    `default_schema` access)."""
    if not pipeline.default_schema_name:
        return None, set()
    schema = pipeline.default_schema
    return schema.version, set(schema.tables.get(table, {}).get("columns", {}))


def _written_folders(info: LoadInfo, job: Job, bucket_url: str) -> dict[str, str]:
    """Per table, the folder dlt wrote its files to, relative to the bucket (e.g. demo/orders/2026/02/12).

    Taken from dlt's own load metrics (`remote_url` of each job), so a custom layout is reported as written.
    """
    folders: dict[str, str] = {}
    prefix = bucket_url.rstrip("/") + "/"
    marker = f"/{job.dataset_name}/"
    for load_metrics in info.metrics.values():
        for step in load_metrics:
            for metrics in step.get("job_metrics", {}).values():
                remote = metrics.remote_url or ""
                if not remote or metrics.table_name.startswith("_dlt"):
                    continue
                if remote.startswith(prefix):
                    relative = remote[len(prefix):]
                else:  # the destination may spell the bucket differently (abfss:// vs az://)
                    relative = job.dataset_name + "/" + remote.rsplit(marker, 1)[-1]
                folders.setdefault(metrics.table_name, relative.rsplit("/", 1)[0])
    return folders


def _reset_incremental_state(pipeline: dlt.Pipeline) -> None:
    """Forget the stored cursor so the workbook's last_watermark applies; the lake keeps the old state
    until this run's load succeeds (state travels with the load package)."""
    with pipeline.managed_state() as state:
        for source_state in state.get("sources", {}).values():
            for resource_state in source_state.get("resources", {}).values():
                resource_state.pop("incremental", None)


def _same_value(left: Any, right: Any) -> bool:
    try:
        return bool(ensure_pendulum_datetime(left) == ensure_pendulum_datetime(right))
    except (TypeError, ValueError):
        return str(left) == str(right)


def _warn_if_workbook_watermark_moved(job: Job, stored: dict[str, Any] | None) -> str | None:
    if not stored or job.last_watermark is None or stored.get("initial_value") is None:
        return None
    if _same_value(job.last_watermark, stored["initial_value"]):
        return None
    if stored.get("last_value") is not None and _same_value(job.last_watermark, stored["last_value"]):
        return None  # `ingest run --write-back` wrote the stored cursor into the workbook
    return (f"last_watermark in the workbook ({job.last_watermark}) differs from the one the stored state started "
            f"from ({stored['initial_value']}); the stored cursor ({stored.get('last_value')}) wins. To start again "
            f"from the workbook's value run: ingest run --select '{job.name}' --reset-state")


def _finish_pending_loads(pipeline: dlt.Pipeline, job: Job) -> str | None:
    """Complete load packages an earlier run left behind (crash, kill, lake down) before extracting anew.

    dlt's `run` would load them and silently skip this run's extraction; doing it first keeps both. A
    resumed package rewrites the same file names, so nothing lands twice, and it carries the state it was
    extracted with, so the cursor stays consistent with the data.
    """
    if not pipeline.has_pending_data:
        return None
    pending = [*pipeline.list_extracted_load_packages(), *pipeline.list_normalized_load_packages()]
    log.warning("%s: completing %d load package(s) left pending by an earlier run: %s", job.name, len(pending),
                ", ".join(pending))
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    pipeline.load()
    return f"completed load package(s) {', '.join(pending)} left pending by an earlier run"


def _apply_state_rules(pipeline: dlt.Pipeline, job: Job, reset_state: bool, result: JobResult) -> dict[str, Any] | None:
    if reset_state and job.is_incremental:
        log.warning("%s: stored cursor %s forgotten (--reset-state); starting from the workbook's %s", job.name,
                    (incremental_state(pipeline) or {}).get("last_value"), job.last_watermark)
        _reset_incremental_state(pipeline)
    before = incremental_state(pipeline)
    moved = _warn_if_workbook_watermark_moved(job, before)
    if moved:
        result.warnings.append(moved)
        log.warning("%s: %s", job.name, moved)
    return before


def _record_schema_change(pipeline: dlt.Pipeline, job: Job, result: JobResult, version_before: int | None,
                          columns_before: set[str]) -> None:
    result.schema_version, columns_after = _schema_facts(pipeline, job.lake_table)
    if version_before is not None and columns_before and columns_after - columns_before:
        result.schema_changed = True
        result.new_columns = sorted(columns_after - columns_before)
        log.warning(
            "[SCHEMA CHANGE] %s: version %s (was %s); new columns: %s",
            job.lake_table, result.schema_version, version_before, ", ".join(result.new_columns),
        )


CURRENT_SUFFIX = "_current"


def wants_current_table(job: Job, default: bool) -> bool:
    return bool(job.primary_key) and (job.current_table if job.current_table is not None else default)


def with_current_table(data: DltResource | DltSource, job: Job) -> list[DltResource]:
    """The job's resource plus a fork of its rows into a Delta table upserted on the primary key.

    The fork sees exactly what the history table gets (after the incremental filter), so the current
    state stays in step with the append-only history; a dlt transformer does it in the same load.
    """
    try:
        import deltalake  # noqa: F401
    except ImportError:
        raise SourceError(f"{job.name}: current_table needs the deltalake package: pip install 'dlt-ingest[delta]'"
                          ) from None
    resource = data if isinstance(data, DltResource) else data.resources[job.lake_table]
    resource.apply_hints(write_disposition="append")  # the history stays append-only
    current = dlt.transformer(  # type: ignore[call-overload]
        _pass_through, data_from=resource, name=f"{job.lake_table}{CURRENT_SUFFIX}", table_format="delta",
        write_disposition={"disposition": "merge", "strategy": "upsert"}, primary_key=list(job.primary_key),
    )
    return [resource, current]


def _pass_through(items: Any) -> Any:
    return items


def run_job(job: Job, lake: LakeTarget, pipelines_dir: str, attempt: int = 1, reset_state: bool = False,
            current_tables: bool = False) -> JobResult:
    """Extract, normalize and load one job; raises on failure (the orchestrator records it)."""
    started = datetime.now()
    clock = time.monotonic()
    module = REGISTRY.get(job.source_type)
    credentials = resolve_source_credentials(module.credentials_spec, job.source_name)
    result = JobResult(job, JobStatus.SUCCESS, started, attempts=attempt,
                       credentials_from=credentials.providers_used)
    pipeline = dlt.pipeline(
        pipeline_name=job.pipeline_name,
        destination=lake.destination(),
        dataset_name=job.dataset_name,
        pipelines_dir=pipelines_dir,
        **pipeline_kwargs(),  # test-only crash points (DLT_INGEST_TEST_CRASH_AT); empty otherwise
    )
    unfinished = _lake_step(remove_unfinished_states, pipeline)  # never restore past lost rows
    pipeline.sync_destination()  # restores state from the lake when the local folder is empty
    pipeline._state_restored = True  # what `run` sets after its own sync: spares a second listing of the lake
    if unfinished:
        result.warnings.append(f"ignored {len(unfinished)} stored state(s) of a load that never completed")
    resumed = _finish_pending_loads(pipeline, job)
    if resumed:
        result.warnings.append(resumed)
    orphans = remove_orphan_files(pipeline, job.lake_table)
    if orphans:
        result.warnings.append(f"removed {len(orphans)} file(s) of a load that never completed")
    before = _apply_state_rules(pipeline, job, reset_state, result)
    version_before, columns_before = _schema_facts(pipeline, job.lake_table)
    _lake_step(lake.ensure_dataset, pipeline, "load")  # before jobs of one source race to create it
    with module.prepare(job, credentials.config) as prepared:
        result.warnings.extend(prepared.warnings)
        for warning in prepared.warnings:
            log.warning("%s: %s", job.name, warning)
        if wants_current_table(job, current_tables):  # dispositions per resource: append + merge
            info = pipeline.run(with_current_table(prepared.data, job), loader_file_format="parquet")
        else:
            info = pipeline.run(prepared.data, loader_file_format="parquet", write_disposition="append")
    trace = pipeline.last_trace
    counts = dict(trace.last_normalize_info.row_counts) if trace and trace.last_normalize_info else {}
    result.rows = counts.get(job.lake_table, 0)
    result.child_rows = {
        name: n for name, n in counts.items() if name.startswith(job.lake_table + "__")
    }
    result.load_id = info.loads_ids[-1] if info.loads_ids else ""
    result.written_folders = _written_folders(info, job, lake.bucket_url)
    result.partition_path = result.written_folders.get(job.lake_table, "")
    after = incremental_state(pipeline)
    result.watermark_start = (before or {}).get("last_value", job.last_watermark)
    result.watermark_from_state = (before or {}).get("last_value") is not None
    result.watermark_end = (after or {}).get("last_value")
    _record_schema_change(pipeline, job, result, version_before, columns_before)
    result.duration_seconds = round(time.monotonic() - clock, 3)
    return result
