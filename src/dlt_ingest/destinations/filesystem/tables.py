"""A job's table in the lake as a catalog sees it: its folders and the columns of its completed files.

Unity Catalog declares a Parquet table's columns once; they come from the files' own Parquet footers (the
exact Arrow types dlt wrote), read only from files of completed loads (the reading rule). The first
registration reads every completed file; later ones the files of loads completed after the newest one
already registered (a skipped or failed registration, or a load completed late, is caught up, not lost).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.common.storages.fsspec_filesystem import fsspec_from_config

from dlt_ingest.destinations.filesystem.azure import locate
from dlt_ingest.destinations.filesystem.lake import LakeTarget
from dlt_ingest.destinations.filesystem.orphans import LOADS_FOLDER, completed_load_ids, load_id_of
from dlt_ingest.destinations.filesystem.preflight import resolve_lake_config
from dlt_ingest.errors import ConfigError
from dlt_ingest.results import LakeTable
from dlt_ingest.workbook.model import CURRENT_SUFFIX, Job


def _table_prefix(lake: LakeTarget, job: Job) -> str:
    """`<dataset>/[<schema>/]<table>`: the folder holding every file of the job's table."""
    layout = lake.layout
    if "{table_name}/" not in layout or not layout.rsplit("/", 1)[-1].startswith("{load_id}."):
        raise ConfigError(f"destination layout '{layout}': a catalog table needs a folder per table and file names "
                          f"that begin with {{load_id}}. (the default layout does both)")
    before = layout.split("{table_name}", 1)[0].replace("{schema_name}", job.pipeline_name)
    return f"{job.dataset_name}/{before}{job.lake_table}"


def _union(schemas: list[pa.Schema]) -> pa.Schema | None:
    if not schemas:
        return None
    plain = [pa.schema([field.with_nullable(True) for field in schema]).remove_metadata() for schema in schemas]
    return pa.unify_schemas(plain, promote_options="permissive")


def describe_table(lake: LakeTarget, job: Job, after_load: str | None) -> LakeTable:
    """The job's folders, and the union schema of its completed files (every load, or those after one)."""
    history = _table_prefix(lake, job)
    config = resolve_lake_config(lake)
    filesystem, root = fsspec_from_config(config)
    base = (config.make_local_path(lake.bucket_url) if lake.is_local else root).rstrip("/")  # dlt's own folder
    filesystem.invalidate_cache()
    completed = completed_load_ids(filesystem, f"{base}/{job.dataset_name}")
    folder = f"{base}/{history}"
    files = [p for p in filesystem.find(folder) if p.endswith(".parquet") and load_id_of(p) in completed] \
        if filesystem.exists(folder) else []
    files.sort(key=lambda p: (Decimal(load_id_of(p)), p))  # oldest first: new columns come last
    newest = load_id_of(files[-1]) if files else after_load
    if after_load is not None:
        files = [p for p in files if Decimal(load_id_of(p)) > Decimal(after_load)]
    schemas = []
    for path in files:
        with filesystem.open(path, "rb") as handle:
            schemas.append(pq.read_schema(handle))
    current = f"{job.dataset_name}/{job.lake_table}{CURRENT_SUFFIX}"
    has_current = filesystem.exists(f"{base}/{current}/_delta_log")
    return LakeTable(job, history, f"{job.dataset_name}/{LOADS_FOLDER}", current if has_current else None,
                     _union(schemas), newest)


def catalog_root(lake: LakeTarget) -> str:
    """The lake's root as Databricks reads it: `abfss://container@account.dfs.core.windows.net/prefix` for
    Azure (dlt's `az://container` names the account in the credentials), any other URL as it is."""
    if lake.is_local:  # the folder dlt writes (a file:// URL percent-encodes what Spark wants as it is)
        return "file://" + FilesystemConfiguration.make_local_path(lake.bucket_url).rstrip("/")
    if not lake.is_azure:
        return lake.bucket_url.rstrip("/")
    config: Any = resolve_lake_config(lake)
    location = locate(lake.bucket_url, config.credentials, lake.fs_kwargs)
    return location.abfss_url()
