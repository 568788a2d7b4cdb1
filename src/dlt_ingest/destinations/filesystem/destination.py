"""The filesystem destination behind the `Destination` protocol: date-partitioned Parquet in a local
folder or a bucket, through dlt's filesystem destination."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.pipeline import LoadInfo
from dlt.common.storages.fsspec_filesystem import fsspec_from_config

from dlt_ingest.destinations.base import StoredState, TableFiles
from dlt_ingest.destinations.filesystem.atomic import is_partial
from dlt_ingest.destinations.filesystem.azure import container_client, locate
from dlt_ingest.destinations.filesystem.lake import LakeTarget
from dlt_ingest.destinations.filesystem.lease import held_leases
from dlt_ingest.destinations.filesystem.lease_store import AzureLeaseStore, LeaseStore, LocalLeaseStore
from dlt_ingest.destinations.filesystem.orphans import (
    CompletedLoads,
    completed_table_files,
    newest_file_schema,
    remove_orphan_files,
    remove_unfinished_states,
    superseded_packages,
)
from dlt_ingest.destinations.filesystem.preflight import check_lake, resolve_lake_config
from dlt_ingest.destinations.filesystem.stored_states import newest_completed_states, newest_schema_versions
from dlt_ingest.destinations.filesystem.tables import catalog_root, describe_table
from dlt_ingest.errors import JobError, first_line, innermost
from dlt_ingest.results import LakeTable
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.destination")


def damaged_state(job: Job, cause: BaseException) -> JobError:
    """A stored state or schema file in the lake that dlt cannot read: name the files, the way out and its cost."""
    return JobError(
        f"{job.name}: a stored state or schema of pipeline {job.pipeline_name} in the lake is damaged "
        f"({type(cause).__name__}: {first_line(str(cause))}): remove the newest "
        f"{job.dataset_name}/_dlt_pipeline_state/{job.pipeline_name}__*.jsonl (or _dlt_version/"
        f"{job.pipeline_name}__*.jsonl) from the lake, and the next run resumes from the one before (rows of "
        f"the load after it are read again: readers keep the latest version per primary key)")


@dataclass(frozen=True)
class FilesystemDestination:
    """A `Destination` over one lake (`LakeTarget`: where and how files are written)."""

    lake: LakeTarget
    completed: CompletedLoads = field(default_factory=CompletedLoads, compare=False)  # for this run
    # the lake's fsspec filesystem and root, opened once for the bulk reads of stored states
    _opened: dict[str, tuple[Any, str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _opening: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "local" if self.lake.is_local else "adls_gen2"

    @property
    def bucket_url(self) -> str:
        return self.lake.bucket_url

    def describe(self) -> str:
        return self.lake.display()

    def preflight(self, create_container: bool = False) -> None:
        check_lake(self.lake, create_container)

    def check_writable(self) -> None:
        config = resolve_lake_config(self.lake)
        filesystem, root = fsspec_from_config(config)
        marker = f"{root.rstrip('/')}/_ingest_write_test_{uuid.uuid4().hex}"
        filesystem.makedirs(root, exist_ok=True)
        filesystem.pipe(marker, b"ok")
        filesystem.rm(marker)

    def build(self) -> Any:
        return self.lake.destination()

    def restore_state(self, pipeline: dlt.Pipeline, job: Job) -> list[str]:
        """Drop stored states of loads that never completed, and a local folder another working folder has
        overtaken; then let dlt restore the newest state."""
        warnings = []
        fs, root = self._filesystem()
        unfinished = remove_unfinished_states(pipeline, fs, f"{root.rstrip('/')}/{job.dataset_name}", self.completed)
        if unfinished:
            warnings.append(f"ignored {len(unfinished)} stored state(s) of a load that never completed")
        superseded = superseded_packages(pipeline, job.lake_table, self.completed)
        if superseded:  # completing them would load their rows a second time
            pipeline.drop()
            warnings.append(f"discarded load package(s) {', '.join(superseded)} left pending by an earlier run: "
                            f"another working folder has loaded this job since, so the state comes from the lake")
        try:
            pipeline.sync_destination()  # restores state from the lake when the local folder is empty or older
        except Exception as exc:
            if isinstance(innermost(exc), ValueError):  # a JSON document dlt wrote, no longer JSON
                raise damaged_state(job, innermost(exc)) from exc
            raise
        return warnings

    def stored_states(self, dataset_name: str, pipeline_names: Sequence[str]) -> dict[str, StoredState]:
        fs, root = self._filesystem()
        return newest_completed_states(fs, f"{root.rstrip('/')}/{dataset_name}", pipeline_names, self.completed)

    def stored_schema_versions(self, dataset_name: str, schema_names: Sequence[str]) -> dict[str, int]:
        fs, root = self._filesystem()
        return newest_schema_versions(fs, f"{root.rstrip('/')}/{dataset_name}", schema_names)

    def _filesystem(self) -> tuple[Any, str]:
        with self._opening:
            if "lake" not in self._opened:
                self._opened["lake"] = fsspec_from_config(resolve_lake_config(self.lake))
            return self._opened["lake"]

    def prepare_load(self, pipeline: dlt.Pipeline, job: Job) -> list[str]:
        removed = remove_orphan_files(pipeline, job.lake_table, self.completed)
        self.lake.ensure_dataset(pipeline)  # before jobs of one source race to create it
        partial = [path for path in removed if is_partial(path)]
        warnings = [f"removed {len(removed) - len(partial)} file(s) of a load that never completed"] \
            if len(removed) > len(partial) else []
        if partial:
            warnings.append(f"removed {len(partial)} unfinished copy(ies) of a run that was killed while writing")
        return warnings

    def table_schema(self, pipeline: dlt.Pipeline, job: Job, table: str | None = None) -> pa.Schema | None:
        return newest_file_schema(pipeline, table or job.lake_table, self.completed)

    def history_files(self, pipeline: dlt.Pipeline, job: Job) -> TableFiles:
        return completed_table_files(pipeline, job.lake_table, self.completed)

    def written_location(self, info: LoadInfo, job: Job) -> dict[str, str]:
        """Per table, the folder dlt wrote its files to, relative to the bucket (e.g. demo/orders/2026/02/12).

        Taken from dlt's own load metrics (`remote_url` of each job), so a custom layout is reported as written.
        """
        folders: dict[str, str] = {}
        prefix = self.lake.bucket_url.rstrip("/") + "/"
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

    def table_location(self, job: Job, day: date) -> str:
        return f"{self.lake.bucket_url.rstrip('/')}/{job.dataset_name}/{job.lake_table}/{day:%Y/%m/%d}/"

    def describe_table(self, job: Job, after_load: str | None) -> LakeTable:
        return describe_table(self.lake, job, after_load)

    def catalog_root(self) -> str:
        return catalog_root(self.lake)

    @contextmanager
    def lease(self, jobs: list[Job], owner: str, seconds: float = 300, wait_seconds: float = 0) -> Iterator[None]:
        """Hold every job's lease in the lake (see `lease.py`) while the run lasts; `owner` is the run id."""
        store = self._lease_store()
        if store is None or not jobs:
            yield
            return
        with held_leases(store, jobs, owner, seconds, wait_seconds):
            yield

    def _lease_store(self) -> LeaseStore | None:
        if self.lake.is_local:
            url = self.lake.bucket_url
            return LocalLeaseStore(Path(url[len("file://"):] if url.startswith("file://") else url))
        if not self.lake.is_azure:
            log.warning("Destination %s: no lake lease for this protocol; run one ingest run per job at a time",
                        self.lake.display())
            return None
        config = resolve_lake_config(self.lake)
        location = locate(self.lake.bucket_url, config.credentials, config.kwargs)
        return AzureLeaseStore(container_client(location, config.credentials, config.kwargs), location.prefix)

