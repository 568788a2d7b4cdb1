"""Running one job: its own dlt pipeline, state restored from the lake, facts read back from dlt.

The steps are dlt's own (`extract`, `normalize`, `load`), called one by one so that the state is
restored exactly once, before anything else touches the pipeline, and pending loads are completed
before a new extraction instead of replacing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dlt
from dlt.common.runtime.collector import Collector
from dlt.extract import DltResource, DltSource
from dlt.extract.extractors import materialize_schema_item
from dlt.pipeline.exceptions import PipelineStepFailed

from dlt_ingest.destinations import Destination
from dlt_ingest.engine.child_snapshots import add_empty_child_snapshots
from dlt_ingest.engine.current_table import current_fork, wants_current_table, with_current_table
from dlt_ingest.engine.deletes import DeleteDetection, recorded_live_keys
from dlt_ingest.engine.reconcile import ReconcilePolicy, reconcile
from dlt_ingest.engine.retry import is_transient
from dlt_ingest.engine.schema_storage import keep_loaded_schemas
from dlt_ingest.engine.state import apply_state_rules, finish_pending_loads, incremental_state, schema_facts
from dlt_ingest.errors import IngestError, JobError, describe, first_line
from dlt_ingest.redaction import redact
from dlt_ingest.results import ColumnChange, JobResult, JobStatus
from dlt_ingest.sources import REGISTRY, LakeColumns
from dlt_ingest.sources.base import PreparedSource, SourceSession, stored_lake_columns
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.job")

_LAKE_STEPS = {"sync": "cannot read the stored state from the lake: ", "load": "cannot write to the lake: "}


def failure_reason(exc: BaseException) -> str:
    """The one line a failed job reports; a storage error of dlt's sync or load step says it was the lake."""
    step = exc.step if isinstance(exc, PipelineStepFailed) else ""
    return describe(exc, prefix=_LAKE_STEPS.get(step, ""))


def _lake_step(step: Callable[[], Any], kind: str = "sync") -> Any:
    """Run a step of ours that touches the lake; a storage failure reads like dlt's own step of that kind."""
    try:
        return step()
    except IngestError:
        raise
    except Exception as exc:
        line = first_line(str(exc))
        error = JobError(redact(_LAKE_STEPS[kind] + type(exc).__name__ + (f": {line}" if line else "")))
        error.transient = is_transient(exc)
        raise error from exc


@dataclass(frozen=True)
class JobContext:
    """What every job of a run shares."""

    destination: Destination
    pipelines_dir: str
    reconcile_policy: ReconcilePolicy
    reset_state: bool = False
    current_tables: bool = False
    collector: Callable[[Job], Collector | None] | None = None  # dlt progress collector per job (progress, tests)


def run_job(job: Job, source_session: SourceSession[Any], context: JobContext, attempt: int = 1) -> JobResult:
    """Extract, normalize and load one job, then reconcile its row count; raises on failure (the
    orchestrator records it and decides about another attempt)."""
    started = datetime.now()
    clock = time.monotonic()
    module = REGISTRY.get(job.source_type)
    result = JobResult(job, JobStatus.SUCCESS, started, attempts=attempt)
    progress = context.collector(job) if context.collector is not None else None
    options: dict[str, Any] = {"progress": progress} if progress is not None else {}
    pipeline = dlt.pipeline(pipeline_name=job.pipeline_name, destination=context.destination.build(),
                            dataset_name=job.dataset_name, pipelines_dir=context.pipelines_dir, **options)
    keep_loaded_schemas(pipeline)
    result.warnings += _lake_step(lambda: context.destination.restore_state(pipeline, job))  # never past lost rows
    resumed = finish_pending_loads(pipeline, job)
    if resumed:
        result.warnings.append(resumed)
    result.warnings += _lake_step(lambda: context.destination.prepare_load(pipeline, job), "load")
    before = apply_state_rules(pipeline, job, context.reset_state, result)
    version_before, columns_before = schema_facts(pipeline, job.lake_table)
    lake = lake_columns(pipeline, job, context.destination) if module.keeps_lake_types else None
    with module.prepare(job, source_session, lake) as prepared:
        result.warnings.extend(prepared.warnings)
        for warning in prepared.warnings:
            log.warning("%s: %s", job.name, warning)
        result.schema_changes = list(prepared.schema_changes or [])
        tracked = prepared.schema_changes is not None
        current = wants_current_table(job, context.current_tables)
        detection = _delete_detection(job, prepared, context, pipeline, progress)
        try:
            if detection is not None:  # the read, then the tombstones, in one package
                fork = (lambda resource, name: current_fork(resource, job, name)) if current else None
                pipeline.extract(detection.sources(pipeline, prepared.data, lake_hints(prepared), fork),
                                 loader_file_format="parquet")
            elif current:  # dispositions per resource: append + merge
                pipeline.extract(with_current_table(prepared.data, job), loader_file_format="parquet")
            else:
                pipeline.extract(with_empty_snapshot(pipeline, job, prepared.data, module.keeps_lake_types),
                                 loader_file_format="parquet", write_disposition="append")
        finally:
            if detection is not None:
                detection.close()
                result.rows_deleted = detection.rows_deleted
        normalized = pipeline.normalize()
        emptied = _lake_step(lambda: add_empty_child_snapshots(pipeline, job, normalized, context.destination))
        info = pipeline.load()
        counts = dict(normalized.row_counts) if normalized is not None else {}
        result.rows = counts.get(job.lake_table, 0) - result.rows_deleted
        result.child_rows = {name: n for name, n in counts.items() if name.startswith(job.lake_table + "__")}
        result.child_rows.update({name: 0 for name in emptied})
        result.load_id = info.loads_ids[-1] if info.loads_ids else ""
        result.written_folders = context.destination.written_location(info, job)
        result.partition_path = result.written_folders.get(job.lake_table, "")
        after = incremental_state(pipeline)
        result.watermark_start = (before or {}).get("last_value", job.last_watermark)
        result.watermark_from_state = (before or {}).get("last_value") is not None
        result.watermark_end = (after or {}).get("last_value")
        _record_schema_change(pipeline, job, result, version_before, columns_before, tracked)
        if prepared.count_rows is not None:
            rows_read = prepared.rows_read() if prepared.rows_read is not None else None
            reconcile(result, prepared.count_rows, context.reconcile_policy, rows_read)
    result.duration_seconds = round(time.monotonic() - clock, 3)
    return result


def _delete_detection(job: Job, prepared: PreparedSource, context: JobContext, pipeline: dlt.Pipeline,
                      progress: Collector | None) -> DeleteDetection | None:
    """The job's delete detection, with the history's completed files listed before anything is extracted."""
    if prepared.keys is None:
        return None
    history = _lake_step(lambda: context.destination.history_files(pipeline, job))
    spill = Path(context.pipelines_dir) / job.pipeline_name / "delete_detection"
    return DeleteDetection(job, prepared.keys, history, spill, datetime.now(timezone.utc), progress,
                           recorded_live_keys(pipeline.state, job))


def with_empty_snapshot(pipeline: dlt.Pipeline, job: Job, data: Any, reads_empty_tables: bool) -> Any:
    """A FULL job's data plus, where its table already has columns in the pipeline's schema, an empty item for
    that table: dlt writes it as a file of no rows in the same package, so a snapshot of no records is the
    newest snapshot (a database source does this itself, from its lake schema: `reads_empty_tables`)."""
    if job.is_incremental or reads_empty_tables:
        return data
    table = pipeline.default_schema.tables.get(job.lake_table) if pipeline.default_schema_name else None
    if not table or not any(not name.startswith("_dlt") for name in table.get("columns", {})):
        return data  # never loaded: no columns to give an empty file
    marker = dlt.resource([materialize_schema_item()], name=f"{job.lake_table}_empty_snapshot",
                          table_name=job.lake_table, write_disposition="append")
    if isinstance(data, DltSource):  # one source, so one package with the snapshot
        data.resources.add(marker)
        return data
    return [data, marker]


def lake_hints(prepared: PreparedSource) -> dict[str, Any]:
    """The dlt column hints of the job's history table (the tombstones land in the same table)."""
    resource = prepared.data if isinstance(prepared.data, DltResource) else None
    columns = resource.columns if resource is not None else None
    return dict(columns) if isinstance(columns, dict) else {}


def lake_columns(pipeline: dlt.Pipeline, job: Job, destination: Destination) -> LakeColumns:
    """What the lake holds for the job's table: the lake types its last load recorded, or (for a table loaded
    before they were recorded) the schema of its newest file."""
    stored = stored_lake_columns(pipeline.state)
    if stored is not None:
        return LakeColumns(stored)
    return LakeColumns(None, _lake_step(lambda: destination.table_schema(pipeline, job)))


def _record_schema_change(pipeline: dlt.Pipeline, job: Job, result: JobResult, version_before: int | None,
                          columns_before: set[str], tracked: bool) -> None:
    """Changes the source found from its catalog (`tracked`), else the columns dlt's schema gained from the data."""
    result.schema_version, columns_after = schema_facts(pipeline, job.lake_table)
    if not tracked and version_before is not None and columns_before and columns_after - columns_before:
        added = sorted(name for name in columns_after - columns_before if not name.startswith("_dlt"))
        result.schema_changes = [ColumnChange(name, "added") for name in added]
    if result.schema_changes:
        log.warning("[SCHEMA CHANGE] %s: version %s (was %s): %s", job.name, result.schema_version, version_before,
                    result.describe_schema_changes())
