"""The optional current-state Delta table `<table>_current` beside a job's append-only history."""

from __future__ import annotations

import importlib.util
from typing import Any

import dlt
from dlt.extract import DltResource, DltSource

from dlt_ingest.errors import SourceError
from dlt_ingest.workbook.model import CURRENT_SUFFIX, Job


def wants_current_table(job: Job, default: bool) -> bool:
    return bool(job.primary_key) and (job.current_table if job.current_table is not None else default)


def with_current_table(data: DltResource | DltSource, job: Job) -> list[DltResource]:
    """The job's resource plus a fork of its rows into a Delta table upserted on the primary key.

    The fork sees exactly what the history table gets (after the incremental filter), so the current
    state stays in step with the append-only history; a dlt transformer does it in the same load.
    """
    if importlib.util.find_spec("deltalake") is None:
        raise SourceError(f"{job.name}: current_table needs the deltalake package: pip install 'dlt-ingest[delta]'")
    resource = data if isinstance(data, DltResource) else data.resources[job.lake_table]
    resource.apply_hints(write_disposition="append")  # the history stays append-only
    current = dlt.transformer(  # type: ignore[call-overload]
        _pass_through, data_from=resource, name=f"{job.lake_table}{CURRENT_SUFFIX}", table_format="delta",
        write_disposition={"disposition": "merge", "strategy": "upsert"}, primary_key=list(job.primary_key),
    )
    return [resource, current]


def _pass_through(items: Any) -> Any:
    return items
