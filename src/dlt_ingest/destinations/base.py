"""The protocol of a destination: what the run asks of the place the data lands.

A run builds one destination, checks it once (`preflight`), and for each job: builds dlt's destination
for the job's pipeline (`build`), restores the job's stored state from it (`restore_state`), makes the
job's target ready (`prepare_load`: unfinished loads cleaned up, folders created) and, after the load,
asks where the files went (`written_location`); delete detection reads the history's completed files
(`history_files`); a catalog step after the run asks what a job's table holds (`describe_table`,
`catalog_root`). Before INCREMENTAL jobs run, the run reads their stored states in bulk (`stored_states`,
`stored_schema_versions`) to finish the ones with nothing new without a pipeline. A new kind of destination
is a package implementing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import pyarrow as pa
from dlt.common.pipeline import LoadInfo

from dlt_ingest.results import LakeTable
from dlt_ingest.workbook.model import Job


@dataclass(frozen=True)
class TableFiles:
    """The data files of a table's completed loads: (path, load id) pairs, and the fsspec filesystem that
    reads the paths when they are not local (None for local disk)."""

    files: list[tuple[str, str]]
    filesystem: Any = None


@dataclass(frozen=True)
class StoredState:
    """A pipeline's state as dlt stored it with a load (decoded and migrated by dlt's own functions)."""

    state: dict[str, Any]
    load_id: str


class Destination(Protocol):
    @property
    def kind(self) -> str:
        """A short name for file names and logs, e.g. `local` or `adls_gen2`."""
        ...

    def describe(self) -> str:
        """Where the data goes, safe to print (no credentials)."""
        ...

    def preflight(self, create_container: bool = False) -> None:
        """Fail once, before any job, when the destination cannot be written (raises `IngestError`s)."""
        ...

    def check_writable(self) -> None:
        """Write and remove a marker where the data would go (`ingest test-connections`); raise on failure."""
        ...

    def build(self) -> Any:
        """dlt's destination for a job's pipeline (one per run, shared by its jobs)."""
        ...

    def restore_state(self, pipeline: Any, job: Job) -> list[str]:
        """Bring the pipeline's state and schema in step with the destination; returns warnings."""
        ...

    def stored_states(self, dataset_name: str, pipeline_names: Sequence[str]) -> dict[str, StoredState]:
        """By pipeline name, the state dlt would restore for it: its newest stored state, when that state's load
        completed. A pipeline without one (none stored, or the newest of a load that never completed, which
        its run cleans up) is left out. One listing of the dataset's states, however many pipelines."""
        ...

    def stored_schema_versions(self, dataset_name: str, schema_names: Sequence[str]) -> dict[str, int]:
        """By schema name, the version of the newest schema dlt stored (the one a restore brings back)."""
        ...

    def prepare_load(self, pipeline: Any, job: Job) -> list[str]:
        """Make the job's target ready for a new load (after pending loads were completed); returns warnings."""
        ...

    def table_schema(self, pipeline: Any, job: Job, table: str | None = None) -> pa.Schema | None:
        """The Arrow schema of the newest completed file of the job's table (or of `table`, one of its child
        tables), or None when it has none."""
        ...

    def history_files(self, pipeline: Any, job: Job) -> TableFiles:
        """Every data file of the job's table that a reader following the reading rule reads."""
        ...

    def written_location(self, info: LoadInfo, job: Job) -> dict[str, str]:
        """Per table, the folder (or object) the load wrote to, relative to the destination."""
        ...

    def table_location(self, job: Job, day: date) -> str:
        """Where a load of `job` on `day` would write (for a dry run)."""
        ...

    def lease(self, jobs: list[Job], owner: str, seconds: float = 300,
              wait_seconds: float = 0) -> AbstractContextManager[None]:
        """Hold every job for this run against all other writers of this destination (any machine): `owner` is
        the run id, a lease lasts `seconds` unless renewed, a held one is waited for up to `wait_seconds`;
        raises `LockError` naming the holder."""
        ...

    def describe_table(self, job: Job, after_load: str | None) -> LakeTable:
        """The job's folders and the columns of its completed files (every load, or only those after `after_load`)."""
        ...

    def catalog_root(self) -> str:
        """The root URL a catalog registers the folders under (e.g. abfss://... for Azure)."""
        ...
