"""Removing data files of loads that will never complete (a run killed mid-upload whose package is gone).

While the local working folder survives, a crashed load is resumed and rewrites the same file names, so
nothing is orphaned. When the folder is lost (ephemeral compute) the next run extracts anew under a new
load id; the files the dead run had uploaded would stay in the lake with no completion record. Readers
that follow the reading rule ignore them, but a naive reader would count them twice, so they go. So do
the hidden `.<name>.partial` files of a copy a killed process never finished (see `atomic.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq

from dlt_ingest.destinations.base import TableFiles
from dlt_ingest.destinations.filesystem.atomic import is_partial
from dlt_ingest.destinations.filesystem.listing import file_names

log = logging.getLogger("dlt_ingest.job")

LOADS_FOLDER = "_dlt_loads"
STATE_FOLDER = "_dlt_pipeline_state"


def load_id_of(path: str) -> str:
    """`.../<load_id>.<file_id>.parquet` -> `<load_id>` (dlt load ids look like `1770123857.12345`)."""
    return ".".join(path.rstrip("/").rsplit("/", 1)[-1].split(".")[:2])


class CompletedLoads:
    """Which loads of a dataset completed, for one run: `_dlt_loads` (one record per job and run, forever) is
    listed once per dataset per run, not by every job; a load missing from that listing is looked up by
    its record's exact path (it may have completed since, in this run), so the answer is never stale."""

    def __init__(self) -> None:
        self._listed: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def is_completed(self, fs: Any, dataset_path: str, schema_name: str, load_id: str) -> bool:
        dataset = dataset_path.rstrip("/")
        with self._lock:
            if dataset not in self._listed:
                self._listed[dataset] = completed_load_ids(fs, dataset)
            if load_id in self._listed[dataset]:
                return True
        completed = bool(fs.exists(f"{dataset}/{LOADS_FOLDER}/{schema_name}__{load_id}.jsonl"))
        if completed:
            with self._lock:
                self._listed[dataset].add(load_id)
        return completed


def completed_load_ids(fs: Any, dataset_path: str) -> set[str]:
    folder = f"{dataset_path.rstrip('/')}/{LOADS_FOLDER}"
    if not fs.exists(folder):
        return set()
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False)]
    return {name.rsplit("__", 1)[-1].rsplit(".", 1)[0] for name in names if name.endswith(".jsonl")}


def _pending(pipeline: dlt.Pipeline) -> list[str]:
    """The load ids of the packages this working folder has extracted or normalized but not loaded."""
    return [*pipeline.list_extracted_load_packages(), *pipeline.list_normalized_load_packages()]


@contextmanager
def _lake_view(pipeline: dlt.Pipeline) -> Iterator[tuple[Any, Any]]:
    """The pipeline's filesystem client and its fsspec filesystem (listings fresh)."""
    with pipeline.destination_client() as job_client:
        client: Any = job_client
        fs = client.fs_client
        fs.invalidate_cache()
        yield client, fs


def _schema_name(pipeline: dlt.Pipeline) -> str:
    return pipeline.default_schema_name or pipeline.pipeline_name


def _table_folders(client: Any, pipeline: dlt.Pipeline, table: str) -> list[str]:
    """The folders of `table` and its child tables `<table>__*`: those the pipeline's schema knows, and those
    the lake holds (a first load killed half-way leaves files of tables no local schema knows yet)."""
    names = set()
    if pipeline.default_schema_name:
        names |= {name for name in pipeline.default_schema.data_table_names()
                  if name == table or name.startswith(table + "__")}
    parent = client.pathlib.dirname(client.get_table_dir(table).rstrip("/"))
    fs = client.fs_client
    if fs.exists(parent):
        for entry in fs.ls(parent, detail=False):
            name = client.pathlib.basename(str(entry).rstrip("/"))
            if name == table or name.startswith(table + "__"):
                names.add(name)
    return [client.get_table_dir(name).rstrip("/") for name in sorted(names)]


def remove_orphan_files(pipeline: dlt.Pipeline, table: str, completed: CompletedLoads) -> list[str]:
    """Delete files of `table` (and its child tables) whose load has no completion record and is not pending.

    Call it after the pending packages were completed and before the new extraction: at that point any
    such file belongs to a load no process will finish (the run lock and the lake lease keep every other
    run off this job).
    """
    pending = set(_pending(pipeline))
    removed: list[str] = []
    with _lake_view(pipeline) as (client, fs):
        for folder in _table_folders(client, pipeline, table):
            if not fs.exists(folder):
                continue
            for path in fs.find(folder):
                load_id = load_id_of(path)
                if is_partial(path) or (path.endswith(".parquet") and load_id not in pending and not
                                        completed.is_completed(fs, client.dataset_path, _schema_name(pipeline),
                                                               load_id)):
                    fs.rm(path)  # a partial file is a copy a killed process never finished
                    removed.append(path)
    if removed:
        log.warning("removed %d file(s) of a load that never completed: %s", len(removed), ", ".join(removed))
    return removed


def remove_unfinished_states(pipeline: dlt.Pipeline, fs: Any, dataset_path: str,
                             completed: CompletedLoads) -> list[str]:
    """Delete this pipeline's stored states whose load never completed, before state is restored.

    dlt uploads the state file with the other files of a load and writes the completion record last, and
    it restores the NEWEST state file whether or not its load completed. A run killed in between on a
    machine whose working folder is then lost would make the next run start after rows that no completed
    load holds (and `remove_orphan_files` would then delete them). Dropping such states first makes the
    next run restore the last completed state and extract those rows again.

    `fs` and `dataset_path` are the lake's filesystem and the dataset's folder in it: a dlt destination
    client is not built for this (that costs a configuration and capabilities resolution per job).
    """
    pending = set(_pending(pipeline))
    removed: list[str] = []
    dataset = dataset_path.rstrip("/")
    folder = f"{dataset}/{STATE_FOLDER}"
    try:  # names only: a glob or a detailed listing costs per file of every pipeline of the dataset
        names = file_names(fs, folder)
    except FileNotFoundError:
        return []
    mine = pipeline.pipeline_name + "__"  # pipeline names are [a-z0-9_]; partial copies begin with a dot
    for name in names:
        if not (name.startswith(mine) or name.startswith("." + mine)):
            continue
        path = f"{folder}/{name}"
        if is_partial(name) and name[1:].startswith(mine):
            fs.rm(path)  # this pipeline's state file, never finished
            continue
        parts = name.split("__")  # <pipeline>__<load_id>__<hash>.jsonl
        if len(parts) < 3 or parts[0] != pipeline.pipeline_name:
            continue
        if parts[1] not in pending and not completed.is_completed(fs, dataset, _schema_name(pipeline), parts[1]):
            fs.rm(path)
            removed.append(path)
    if removed:
        log.warning("removed %d stored state(s) of a load that never completed: %s", len(removed),
                    ", ".join(removed))
    return removed


def newest_file_schema(pipeline: dlt.Pipeline, table: str, completed: CompletedLoads) -> pa.Schema | None:
    """The Arrow schema of the table's newest file of a completed load (what its readers see now)."""
    if not pipeline.default_schema_name or table not in pipeline.default_schema.tables:
        return None
    with pipeline.destination_client() as job_client:
        client: Any = job_client
        fs = client.fs_client
        folder = client.get_table_dir(table).rstrip("/")
        fs.invalidate_cache()
        if not fs.exists(folder):
            return None
        files = [p for p in fs.find(folder) if p.endswith(".parquet")
                 and completed.is_completed(fs, client.dataset_path, _schema_name(pipeline), load_id_of(p))]
        if not files:
            return None
        newest = max(files, key=lambda path: (load_id_of(path), path))
        with fs.open(newest, "rb") as handle:
            return pq.read_schema(handle)


def completed_table_files(pipeline: dlt.Pipeline, table: str, completed: CompletedLoads) -> TableFiles:
    """Every data file of `table` whose load completed (the reading rule), with its load id, read through
    dlt's own filesystem client (local disk or a bucket)."""
    with _lake_view(pipeline) as (client, fs):
        folder = client.get_table_dir(table).rstrip("/")
        if not fs.exists(folder):
            return TableFiles([], None)
        found = sorted(p for p in fs.find(folder) if p.endswith(".parquet") and not is_partial(p)
                       and completed.is_completed(fs, client.dataset_path, _schema_name(pipeline), load_id_of(p)))
        local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
        return TableFiles([(p if local else fs.unstrip_protocol(p), load_id_of(p)) for p in found],
                          None if local else fs)


def superseded_packages(pipeline: dlt.Pipeline, table: str, completed: CompletedLoads) -> list[str]:
    """This pipeline's pending local packages that are older than a completed load of the job's tables.

    With one working folder that cannot happen (pending packages are completed first). With two (two machines
    on one lake) it means another folder loaded the job after this one was stopped mid-load: the package
    was extracted from a cursor the lake has moved past, and completing it would land its rows twice.
    """
    pending = _pending(pipeline)
    if not pending or not pipeline.default_schema_name:
        return []
    loaded: set[str] = set()
    with _lake_view(pipeline) as (client, fs):
        for folder in _table_folders(client, pipeline, table):
            if fs.exists(folder):
                loaded |= {load_id for load_id in {load_id_of(path) for path in fs.find(folder)}
                           if completed.is_completed(fs, client.dataset_path, _schema_name(pipeline), load_id)}
    newest = max((Decimal(load_id) for load_id in loaded if _is_load_id(load_id)), default=None)
    return [load_id for load_id in pending if newest is not None and _is_load_id(load_id) and Decimal(load_id) < newest]


def _is_load_id(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
