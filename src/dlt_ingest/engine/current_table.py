"""The optional current-state Delta table `<table>_current` beside a job's append-only history."""

from __future__ import annotations

import importlib.util
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract import DltResource, DltSource

from dlt_ingest.errors import SourceError
from dlt_ingest.sources.keys import TOMBSTONE_COLUMN, TOMBSTONE_HINT
from dlt_ingest.workbook.model import CURRENT_SUFFIX, Job


def wants_current_table(job: Job, default: bool) -> bool:
    return bool(job.primary_key) and (job.current_table if job.current_table is not None else default)


def with_current_table(data: DltResource | DltSource, job: Job) -> list[DltResource]:
    """The job's resource plus a fork of its rows into a Delta table upserted on the primary key."""
    resource = data if isinstance(data, DltResource) else data.resources[job.lake_table]
    resource.apply_hints(write_disposition="append")  # the history stays append-only
    return [resource, current_fork(resource, job, f"{job.lake_table}{CURRENT_SUFFIX}")]


def current_fork(resource: DltResource, job: Job, name: str) -> DltResource:
    """A fork of `resource`'s rows into the Delta table, upserted on the primary key.

    The fork sees exactly what the history table gets (after the incremental filter), so the current
    state stays in step with the append-only history; a dlt transformer does it in the same load. With
    delete detection, a row whose `_deleted_at` is set (a tombstone) deletes its key (dlt's hard delete).
    """
    if importlib.util.find_spec("deltalake") is None:
        raise SourceError(f"{job.name}: current_table needs the deltalake package: pip install 'dlt-ingest[delta]'")
    columns = {TOMBSTONE_COLUMN: {**TOMBSTONE_HINT, "hard_delete": True}} if job.detect_deletes else None
    return dlt.transformer(  # type: ignore[call-overload]
        _keys_required(job.primary_key), data_from=resource, name=name, table_name=f"{job.lake_table}{CURRENT_SUFFIX}",
        table_format="delta", write_disposition={"disposition": "merge", "strategy": "upsert"},
        primary_key=list(job.primary_key), columns=columns,
    )


def _keys_required(keys: tuple[str, ...]) -> Any:
    """The rows as they are, their key fields marked as never NULL when they hold none: that is what the merge
    table's schema says of a primary key, and dlt warns about every batch that says otherwise."""

    def pass_through(items: Any) -> Any:
        if not isinstance(items, pa.Table) or any(items.column(k).null_count for k in keys if k in items.column_names):
            return items
        schema = pa.schema([f.with_nullable(False) if f.name in keys else f for f in items.schema])
        return pa.Table.from_arrays(items.columns, schema=schema)

    return pass_through
