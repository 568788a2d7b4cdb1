"""The stored pipeline states and schemas of a dataset, read in bulk without building a pipeline.

dlt restores a job's state from the newest file `_dlt_pipeline_state/<pipeline>__<load_id>__<hash>.jsonl`
(load ids compared as dlt compares them, as strings) once the states of loads that never completed are
gone (`remove_unfinished_states`). Here the folder is listed once for all the pipelines asked about, the
newest file of each is read (one batched read, concurrent on a bucket) and decoded by dlt's own
functions. A newest state whose load never completed is not answered at all: the job's run then cleans it
up (and the files of that load) the usual way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dlt.common import json
from dlt.common.destination.client import StateInfo
from dlt.common.versioned_state import decompress_state
from dlt.pipeline.state_sync import migrate_state_to_current

from dlt_ingest.destinations.base import StoredState
from dlt_ingest.destinations.filesystem.orphans import STATE_FOLDER, CompletedLoads

VERSION_FOLDER = "_dlt_version"
_SEPARATOR = "__"  # dlt's FILENAME_SEPARATOR: <name>__<load_id>__<version hash>.jsonl


def _newest_files(fs: Any, folder: str, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """By name, (load id, path) of its newest file in `folder`, chosen exactly as dlt chooses it."""
    wanted = set(names)
    newest: dict[str, tuple[str, str]] = {}
    if not fs.exists(folder):
        return newest
    for path in fs.ls(folder, detail=False):
        parts = os.path.splitext(os.path.basename(path.rstrip("/")))[0].rsplit(_SEPARATOR, maxsplit=2)
        if len(parts) != 3 or parts[0] not in wanted:
            continue
        if parts[1] > newest.get(parts[0], ("0", ""))[0]:
            newest[parts[0]] = (parts[1], path)
    return newest


def _read_all(fs: Any, paths: Sequence[str]) -> dict[str, bytes]:
    """The files' contents in one call (fsspec reads a list concurrently on a bucket); a file that cannot be read
    is left out."""
    if not paths:
        return {}
    read = fs.cat(list(paths), on_error="return")
    return {path: data for path, data in read.items() if isinstance(data, bytes)}


def newest_completed_states(fs: Any, dataset_path: str, pipeline_names: Sequence[str],
                            completed: CompletedLoads) -> dict[str, StoredState]:
    dataset = dataset_path.rstrip("/")
    fs.invalidate_cache()  # fsspec keeps listings per filesystem instance, which dlt's clients share
    newest = _newest_files(fs, f"{dataset}/{STATE_FOLDER}", pipeline_names)
    done = {name: found for name, found in newest.items() if completed.is_completed(fs, dataset, name, found[0])}
    contents = _read_all(fs, [path for _, path in done.values()])
    states: dict[str, StoredState] = {}
    for name, (load_id, path) in done.items():
        if path in contents:
            states[name] = StoredState(decode_state(name, contents[path]), load_id)
    return states


def decode_state(pipeline_name: str, content: bytes) -> dict[str, Any]:
    """A stored state file, decoded as dlt's `get_stored_state` and `load_pipeline_state_from_destination` do."""
    doc = json.loads(content.decode("utf-8"))
    if load_id := doc.pop("dlt_load_id", None):  # dlt before 0.5 wrote it without the underscore
        doc["_dlt_load_id"] = load_id
    info = StateInfo(**doc)
    return dict(migrate_state_to_current(pipeline_name, decompress_state(info.state)))


def newest_schema_versions(fs: Any, dataset_path: str, schema_names: Sequence[str]) -> dict[str, int]:
    """By schema name, the version of its newest stored schema (`get_stored_schema`'s choice)."""
    fs.invalidate_cache()
    newest = _newest_files(fs, f"{dataset_path.rstrip('/')}/{VERSION_FOLDER}", schema_names)
    contents = _read_all(fs, [path for _, path in newest.values()])
    return {name: int(json.loads(contents[path].decode("utf-8"))["version"]) for name, (_, path) in newest.items()
            if path in contents}
