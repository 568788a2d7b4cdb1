"""A job's dlt pipeline state: the stored cursor, what the workbook says about it, loads left pending.

The truth about a watermark is dlt's pipeline state, stored in the lake with every load and restored
from it; the workbook's `last_watermark` only seeds the first run (see docs/design.md#watermarks).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import dlt
from dlt.common.time import ensure_pendulum_datetime

from dlt_ingest.errors import LoadTypeChanged
from dlt_ingest.results import JobResult
from dlt_ingest.sources.base import LAKE_COLUMNS_KEY, StoredCursor
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.job")
STATE_KEY = "dlt_ingest"  # our entry in the job's pipeline state (stored in the lake with every load)


def incremental_state(pipeline: dlt.Pipeline) -> dict[str, Any] | None:
    """The cursor state of the job's single incremental resource, if any."""
    sources = pipeline.state.get("sources", {})
    for source_state in sources.values():
        for resource_state in source_state.get("resources", {}).values():
            for cursor_state in resource_state.get("incremental", {}).values():
                return dict(cursor_state)
    return None


def reset_incremental_state(pipeline: dlt.Pipeline) -> None:
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


def workbook_watermark_moved(job: Job, stored: dict[str, Any] | None) -> str | None:
    """A warning when the workbook's `last_watermark` was edited after the stored cursor started from it."""
    if not stored or job.last_watermark is None or stored.get("initial_value") is None:
        return None
    if _same_value(job.last_watermark, stored["initial_value"]):
        return None
    if stored.get("last_value") is not None and _same_value(job.last_watermark, stored["last_value"]):
        return None  # `ingest run --write-back` wrote the stored cursor into the workbook
    return (f"last_watermark in the workbook ({job.last_watermark}) differs from the one the stored state started "
            f"from ({stored['initial_value']}); the stored cursor ({stored.get('last_value')}) wins. To start again "
            f"from the workbook's value run: ingest run --select '{job.name}' --reset-state")


def finish_pending_loads(pipeline: dlt.Pipeline, job: Job) -> str | None:
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


def _ours(state: Any) -> dict[str, Any]:
    """Our entry of a pipeline state (dlt keeps keys it does not know, and stores them in the lake)."""
    return cast(dict[str, Any], state.get(STATE_KEY) or {})


def stored_load_type(pipeline: dlt.Pipeline) -> str | None:
    """The load type of the job's earlier loads: recorded in the state, else (a pipeline from before it was
    recorded) INCREMENTAL when a cursor is stored; None for a job that never loaded."""
    recorded = _ours(pipeline.state).get("load_type")
    if recorded:
        return str(recorded)
    return "INCREMENTAL" if incremental_state(pipeline) else None


def _check_load_type(pipeline: dlt.Pipeline, job: Job, reset_state: bool) -> str | None:
    """Refuse a switch between FULL and INCREMENTAL unless `--reset-state`; the previous type when it changed."""
    previous, wanted = stored_load_type(pipeline), job.load_type.value
    if previous is None or previous == wanted:
        return None
    if not reset_state:
        start = " (the first INCREMENTAL run starts from last_watermark)" if job.is_incremental else ""
        raise LoadTypeChanged(
            f"{job.name}: load_type is {wanted} in the workbook but the job's earlier loads were {previous}; to load "
            f"it as {wanted} from now on, run once: ingest run --select '{job.name}' --reset-state{start}; or give "
            f"the row a new table or source name to keep the two apart")
    log.warning("%s: load_type changed from %s to %s (--reset-state)", job.name, previous, wanted)
    return previous


def _record_load_type(pipeline: dlt.Pipeline, job: Job) -> None:
    if _ours(pipeline.state).get("load_type") != job.load_type.value:
        with pipeline.managed_state() as state:
            cast(dict[str, Any], state).setdefault(STATE_KEY, {})["load_type"] = job.load_type.value


def apply_state_rules(pipeline: dlt.Pipeline, job: Job, reset_state: bool, result: JobResult) -> dict[str, Any] | None:
    """The load type check, `--reset-state` and the edited-watermark warning; returns the cursor state the run
    starts from."""
    changed = _check_load_type(pipeline, job, reset_state)
    if reset_state and job.is_incremental:
        log.warning("%s: stored cursor %s forgotten (--reset-state); starting from the workbook's %s", job.name,
                    (incremental_state(pipeline) or {}).get("last_value"), job.last_watermark)
        reset_incremental_state(pipeline)
    elif changed:  # INCREMENTAL -> FULL: the old cursor would otherwise say the job is still incremental
        reset_incremental_state(pipeline)
    _record_load_type(pipeline, job)
    before = incremental_state(pipeline)
    moved = workbook_watermark_moved(job, before)
    if moved:
        result.warnings.append(moved)
        log.warning("%s: %s", job.name, moved)
    return before


def schema_facts(pipeline: dlt.Pipeline, table: str) -> tuple[int | None, set[str]]:
    """The default schema's version and the table's columns (one read: dlt reloads the schema file on each
    `default_schema` access)."""
    if not pipeline.default_schema_name:
        return None, set()
    schema = pipeline.default_schema
    return schema.version, set(schema.tables.get(table, {}).get("columns", {}))


def resumable_cursor(job: Job, state: dict[str, Any]) -> StoredCursor | None:
    """The cursor a job's pipeline would resume from without its run changing anything in `state` (a decoded
    pipeline state); None when the run would change it (a load type to record or refuse, an edited
    workbook watermark to warn about) or the state is not the one cursor the job reads, with its lake types."""
    if _ours(state).get("load_type") != job.load_type.value:
        return None
    found = [(resource, path, cursor) for source in state.get("sources", {}).values()
             for resource in source.get("resources", {}).values()
             for path, cursor in resource.get("incremental", {}).items()]
    if len(found) != 1:
        return None
    resource, path, cursor = found[0]
    hashes, lake_columns = cursor.get("unique_hashes"), resource.get(LAKE_COLUMNS_KEY)
    if cursor.get("last_value") is None or not isinstance(lake_columns, dict) or workbook_watermark_moved(job, cursor):
        return None
    if not isinstance(hashes, list) or hashes != sorted(hashes):  # dlt's run would store them sorted, anew
        return None
    return StoredCursor(str(path), cursor["last_value"], tuple(hashes), lake_columns)
