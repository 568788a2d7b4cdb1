"""The protocol every source module follows: what it checks in a workbook row and how it builds a dlt
resource for a job from credentials resolved once for the job."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import pyarrow as pa
from dlt.common.configuration.specs import BaseConfiguration
from dlt.extract import DltResource, DltSource

from dlt_ingest.results import ColumnChange
from dlt_ingest.sources.keys import SourceKeys
from dlt_ingest.workbook.model import Job

TCredentials = TypeVar("TCredentials", bound=BaseConfiguration)

RowCounter = Callable[[Any, Any], int]
"""Rows the extraction's filter selects now, for reconciliation: `count(after, until)` (see engine.reconcile)."""


@dataclass(frozen=True)
class StoredCursor:
    """The cursor an INCREMENTAL job's dlt state would resume from: dlt's last value, the hashes of the rows
    already loaded at it (`unique_hashes`), and the lake types its last load recorded."""

    cursor_path: str
    last_value: Any
    unique_hashes: tuple[str, ...]
    lake_columns: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class NothingNew:
    """What a source found for a job with nothing after its stored cursor: the rows at the cursor (all loaded
    already, what the read would take again) and the rows whose cursor is NULL."""

    boundary_rows: int
    null_rows: int
    warnings: tuple[str, ...] = ()


LAKE_COLUMNS_KEY = "dlt_ingest_columns"  # in the resource state: each column's source and lake type


def stored_lake_columns(pipeline_state: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The lake types the job's last load recorded (they travel with the load in dlt's pipeline state)."""
    for source_state in pipeline_state.get("sources", {}).values():
        for resource_state in source_state.get("resources", {}).values():
            found = resource_state.get(LAKE_COLUMNS_KEY)
            if isinstance(found, dict):
                return found
    return None


@dataclass(frozen=True)
class LakeColumns:
    """What the lake already holds for a job's table, which decides the lake type of each column.

    `stored` is what the last load recorded (each column's source and lake type, dropped columns marked);
    for a table loaded before that was recorded, `legacy` is the Arrow schema of its newest file.
    """

    stored: dict[str, dict[str, Any]] | None = None
    legacy: pa.Schema | None = None


@dataclass
class PreparedSource:
    """What a source module hands the job: the dlt object to run, what it noticed, how to count the rows."""

    data: DltResource | DltSource
    warnings: list[str] = field(default_factory=list)
    count_rows: RowCounter | None = None  # None: this source has nothing to count against (an API)
    # found from the catalog before reading; None for a source without a catalog (dlt's schema tells)
    schema_changes: list[ColumnChange] | None = None
    rows_read: Callable[[], int] | None = None  # rows the read took from the source, before dlt's filters
    keys: SourceKeys | None = None  # the source's side of delete detection, for a job with detect_deletes


class SourceSession(Generic[TCredentials]):
    """What the jobs of one source share during a run: its credentials, resolved once, and whatever the module
    keeps open for them (a database's engine and catalog). Thread-safe; closed when the run ends."""

    def __init__(self, credentials: TCredentials) -> None:
        self.credentials = credentials

    def close(self) -> None:
        """Release what the session opened (nothing by default)."""


class SourceModule(ABC, Generic[TCredentials]):
    """One kind of source. Modules import their drivers lazily so a laptop needs only the extras it uses."""

    type_name: ClassVar[str]
    credentials_spec: ClassVar[type[BaseConfiguration]]
    keeps_lake_types: ClassVar[bool] = False  # the source has a type contract: `prepare` needs `LakeColumns`
    detects_deletes: ClassVar[bool] = False  # `prepare` offers `PreparedSource.keys` for a job with detect_deletes

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        """Extra rules for a row of this type: (column, message with the fix) pairs."""
        return []

    def open_session(self, credentials: TCredentials, jobs: Sequence[Job]) -> SourceSession[TCredentials]:
        """The session `jobs` (every job of this source in the run) share."""
        return SourceSession(credentials)

    def find_nothing_new(self, candidates: Sequence[tuple[Job, StoredCursor]],
                         source_session: SourceSession[TCredentials]) -> dict[str, NothingNew]:
        """By job name, the INCREMENTAL jobs whose read would take nothing after their stored cursor, exactly as
        dlt's incremental would decide it; a job left out runs its pipeline (the default: every job)."""
        return {}

    def check_against_source(self, job: Job, source_session: SourceSession[TCredentials]
                             ) -> list[tuple[str, str]]:
        """What the row asks that the source itself refuses (a missing table or column, a backend that
        cannot read a column exactly), found without reading a row: (column, message with the fix) pairs."""
        return []

    @abstractmethod
    def prepare(self, job: Job, source_session: SourceSession[TCredentials],
                lake: LakeColumns | None = None) -> AbstractContextManager[PreparedSource]:
        """Build the dlt resource for `job`; the context closes connections when the job is over. `lake` tells
        what the lake already holds for the table (sources with a type contract keep its types)."""

    def describe_target(self, credentials: TCredentials) -> str:
        """Where the source lives, safe to print (host/database, never a password)."""
        return ""

    @abstractmethod
    def test_connection(self, credentials: TCredentials) -> None:
        """Reach the source once with these credentials; raise what went wrong."""
