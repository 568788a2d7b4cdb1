"""INCREMENTAL jobs with nothing new, finished without building a dlt pipeline.

When the first INCREMENTAL job of a source is about to run, the run decides for all of them at once: one
listing of the dataset's stored states gives each job the state dlt would restore (the lake's newest state
of a completed load, or the working folder's when it is the same), and one query on the source tells which
tables hold no row dlt's incremental would take from that cursor (`SourceModule.find_nothing_new`). Such a
job is finished with what its pipeline would have left: SUCCESS with 0 rows, the cursor as it was, its
audit row, log lines, warnings and reconciliation; nothing is written to the lake or its working folder.
Every other job, and every doubt, runs its pipeline as usual (see docs/reliability.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dlt.common import json
from dlt.common.storages.load_storage import LoadStorage
from dlt.common.storages.normalize_storage import NormalizeStorage
from dlt.common.versioned_state import json_decode_state
from dlt.pipeline.state_sync import migrate_state_to_current

from dlt_ingest.destinations.base import StoredState
from dlt_ingest.engine.job import JobContext
from dlt_ingest.engine.reconcile import ReconcilePolicy, reconcile
from dlt_ingest.engine.state import resumable_cursor
from dlt_ingest.errors import describe
from dlt_ingest.results import JobResult, JobStatus
from dlt_ingest.sources import REGISTRY
from dlt_ingest.sources.base import NothingNew, SourceSession, StoredCursor
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.job")

_PENDING = (("normalize", NormalizeStorage.EXTRACTED_FOLDER), ("load", LoadStorage.NEW_PACKAGES_FOLDER),
            ("load", LoadStorage.NORMALIZED_FOLDER))  # a package in any of them: the job's run completes it


def needs_pipeline(job: Job, context: JobContext) -> str | None:
    """Why a job runs its pipeline whatever its source holds; None when the check may finish it without one.
    A job whose run does more than read the rows after its cursor adds its reason here."""
    if not (job.is_incremental and job.watermark_column):
        return "not an INCREMENTAL job"
    if not job.primary_key:
        return "no primary_key: dlt tells the rows at the cursor apart by the hash of the whole row"
    if context.reset_state:
        return "--reset-state"
    if job.detect_deletes:
        return "detect_deletes: every run compares the table's keys with the lake's"
    return None


@dataclass(frozen=True)
class Unchanged:
    """A job with nothing new: its stored cursor, what the source found, the schema version its pipeline holds."""

    cursor: StoredCursor
    found: NothingNew
    schema_version: int


class UnchangedJobs:
    """For one run: which INCREMENTAL jobs have nothing new, decided per source before its first such job runs
    (a job started later uses that answer: a row committed in between waits for the next run, as a row
    committed just after a read does)."""

    def __init__(self, jobs: Sequence[Job], context: JobContext, session_for: Callable[[Job], SourceSession[Any]]
                 ) -> None:
        self._context = context
        self._session_for = session_for
        self._candidates: dict[str, list[Job]] = {}
        for job in jobs:
            if needs_pipeline(job, context) is None:
                self._candidates.setdefault(job.source_name, []).append(job)
        self._locks = {source: threading.Lock() for source in self._candidates}
        self._decided: dict[str, dict[str, Unchanged]] = {}

    def take(self, job: Job) -> Unchanged | None:
        """The job's answer, once (a second attempt runs the pipeline); None: run the pipeline. Never raises."""
        lock = self._locks.get(job.source_name)
        if lock is None:
            return None
        with lock:
            if job.source_name not in self._decided:
                self._decided[job.source_name] = self._decide(self._candidates[job.source_name])
            return self._decided[job.source_name].pop(job.name, None)

    def _decide(self, jobs: list[Job]) -> dict[str, Unchanged]:
        source = jobs[0].source_name
        clock = time.monotonic()
        try:
            cursors, current_locally = self._cursors(jobs)
            found: dict[str, NothingNew] = {}
            if cursors:
                module = REGISTRY.get(jobs[0].source_type)
                found = module.find_nothing_new([(job, cursors[job.name]) for job in jobs if job.name in cursors],
                                                self._session_for(jobs[0]))
            versions = self._schema_versions([job for job in jobs if job.name in found], current_locally)
        except Exception as exc:  # the check only ever saves work: without it every job runs
            log.info("%s: the check for new rows did not run (%s): its INCREMENTAL jobs run their pipelines",
                     source, describe(exc))
            return {}
        decided = {name: Unchanged(cursors[name], found[name], versions[name]) for name in found if name in versions}
        log.info("%s: %d of %d INCREMENTAL job(s) have nothing new, checked without pipelines in %.2fs", source,
                 len(decided), len(jobs), time.monotonic() - clock)
        return decided

    def _cursors(self, jobs: list[Job]) -> tuple[dict[str, StoredCursor], set[str]]:
        """The stored cursor of every job whose pipeline would resume from a state its run leaves as it is, and
        the jobs whose working folder already holds that state (and so the schema its pipeline reports)."""
        destination = self._context.destination
        built = destination.build()
        stored = destination.stored_states(jobs[0].dataset_name, [job.pipeline_name for job in jobs])
        cursors: dict[str, StoredCursor] = {}
        current_locally: set[str] = set()
        for job in jobs:
            folder = Path(self._context.pipelines_dir) / job.pipeline_name
            restored = state_to_resume(folder, stored.get(job.pipeline_name))
            if restored is None or not same_pipeline(job, restored[0], built):
                continue
            cursor = resumable_cursor(job, restored[0])
            if cursor is not None:
                cursors[job.name] = cursor
                if restored[1]:
                    current_locally.add(job.name)
        return cursors, current_locally

    def _schema_versions(self, jobs: list[Job], current_locally: set[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for job in jobs:
            if job.name in current_locally:
                version = local_schema_version(Path(self._context.pipelines_dir) / job.pipeline_name, job.pipeline_name)
                if version is not None:
                    versions[job.name] = version
        from_lake = [job for job in jobs if job.name not in versions]
        if from_lake:
            stored = self._context.destination.stored_schema_versions(from_lake[0].dataset_name,
                                                                      [job.pipeline_name for job in from_lake])
            versions.update({job.name: stored[job.pipeline_name] for job in from_lake if job.pipeline_name in stored})
        return versions


def state_to_resume(folder: Path, stored: StoredState | None) -> tuple[dict[str, Any], bool] | None:
    """The state dlt's `sync_destination` leaves the pipeline in `folder` with, and whether the working folder
    already held it; None when the run would do more than restore it: no completed state in the lake, a
    package left pending, or a local state newer than the lake's (its run stores it)."""
    if stored is None or any(_has_entries(folder / volume / sub) for volume, sub in _PENDING):
        return None
    local = local_state(folder)
    if local is None:
        return stored.state, False
    if stored.state.get("_state_version", 0) < local.get("_state_version", 0):
        return None
    return stored.state, stored.state.get("_version_hash") == local.get("_version_hash")


def same_pipeline(job: Job, state: dict[str, Any], destination: Any) -> bool:
    """The state names the job's pipeline, dataset, schema and destination as its run would: else the run
    rewrites those properties, and so the state."""
    return (state.get("pipeline_name") == job.pipeline_name and state.get("dataset_name") == job.dataset_name
            and state.get("default_schema_name") == job.pipeline_name
            and state.get("schema_names") == [job.pipeline_name]
            and state.get("destination_type") == destination.destination_type
            and state.get("destination_name") == destination.configured_name and not state.get("staging_type"))


def _has_entries(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def local_state(folder: Path) -> dict[str, Any] | None:
    """The working folder's pipeline state, read as dlt reads it; None when there is none."""
    path = folder / "state.json"
    if not path.is_file():
        return None
    return dict(migrate_state_to_current(folder.name, json_decode_state(path.read_text(encoding="utf-8"))))


def local_schema_version(folder: Path, schema_name: str) -> int | None:
    path = folder / "schemas" / f"{schema_name}.schema.json"
    if not path.is_file():
        return None
    version = json.loads(path.read_text(encoding="utf-8")).get("version")
    return int(version) if isinstance(version, int) else None


def finish_unchanged(job: Job, unchanged: Unchanged, policy: ReconcilePolicy, attempt: int = 1) -> JobResult:
    """What the job's pipeline would have reported, without one: 0 rows, the cursor where it was, the rows at the
    cursor counted on both sides of the reconciliation (the read takes them again, the lake gets none)."""
    clock = time.monotonic()
    result = JobResult(job, JobStatus.SUCCESS, datetime.now(), attempts=attempt)
    cursor, found = unchanged.cursor, unchanged.found
    result.watermark_start = result.watermark_end = cursor.last_value
    result.watermark_from_state = True
    result.schema_version = unchanged.schema_version
    for warning in found.warnings:
        result.warnings.append(warning)
        log.warning("%s: %s", job.name, warning)
    log.info("%s: nothing new after %s %s: checked without a pipeline (state and lake unchanged)", job.name,
             cursor.cursor_path, cursor.last_value)
    reconcile(result, lambda _after, _until: found.boundary_rows, policy, found.boundary_rows)
    result.duration_seconds = round(time.monotonic() - clock, 3)
    return result
