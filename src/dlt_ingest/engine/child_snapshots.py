"""Empty snapshots of a FULL job's child tables: a run whose records hold no nested list rows still replaces
the child table's previous snapshot.

dlt writes a child table (`<table>__<field>`, nested lists of API records) only when the load has rows for
it, and it refuses an empty item for a child table. A FULL snapshot is the newest completed load of each
table's folder, so a child table the source emptied would go on serving the rows of an older snapshot.
Here, after dlt's normalize step and before its load step, every child table the lake already holds that
this load has no rows for gets a Parquet file of no rows in the load package (dlt's own `import_job`),
with the Arrow schema of that table's newest file in the lake; dlt's load step then lands it with the
load's other files.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import dlt
import pyarrow.parquet as pq
from dlt.common.storages.load_package import PackageStorage
from dlt.common.utils import uniq_id

from dlt_ingest.destinations import Destination
from dlt_ingest.workbook.model import Job


def child_tables(pipeline: dlt.Pipeline, job: Job) -> list[str]:
    """The job's child tables the pipeline's schema knows (dlt names them `<table>__<field>`)."""
    if not pipeline.default_schema_name:
        return []
    return sorted(name for name in pipeline.default_schema.data_table_names()
                  if name.startswith(job.lake_table + "__"))


def add_empty_child_snapshots(pipeline: dlt.Pipeline, job: Job, normalized: Any, destination: Destination) -> list[str]:
    """Add an empty file to the normalized package for each of the job's child tables without rows in it;
    returns their names. Only for FULL jobs (an INCREMENTAL child table only ever gains rows)."""
    if job.is_incremental or normalized is None or not normalized.loads_ids:
        return []
    counts = dict(normalized.row_counts)
    missing = [name for name in child_tables(pipeline, job) if not counts.get(name)]
    if not missing:
        return []
    load_id = normalized.loads_ids[-1]
    packages = pipeline._get_load_storage().normalized_packages
    if load_id not in packages.list_packages():
        return []  # nothing left to load (dlt found no data at all)
    added = []
    for table in missing:
        schema = destination.table_schema(pipeline, job, table)
        if schema is None:
            continue  # the lake holds no snapshot of it yet: nothing to replace
        name = PackageStorage.build_job_file_name(table, uniq_id(), loader_file_format="parquet")
        folder = tempfile.mkdtemp(dir=pipeline.working_dir)
        path = os.path.join(folder, name)
        pq.write_table(schema.empty_table(), path)
        packages.import_job(load_id, path)
        os.rmdir(folder)
        added.append(table)
    return added
