"""The protocol every source module follows: what it checks in a workbook row and how it builds a dlt
resource for a job from credentials resolved once for the job."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from dlt.common.configuration.specs import BaseConfiguration
from dlt.extract import DltResource, DltSource

from dlt_ingest.workbook.model import Job

TCredentials = TypeVar("TCredentials", bound=BaseConfiguration)

RowCounter = Callable[[Any, Any], int]
"""Rows the extraction's filter selects now, for reconciliation: `count(after, until)` (see engine.reconcile)."""


@dataclass
class PreparedSource:
    """What a source module hands the job: the dlt object to run, what it noticed, how to count the rows."""

    data: DltResource | DltSource
    warnings: list[str] = field(default_factory=list)
    count_rows: RowCounter | None = None  # None: this source has nothing to count against (an API)


class SourceModule(ABC, Generic[TCredentials]):
    """One kind of source. Modules import their drivers lazily so a laptop needs only the extras it uses."""

    type_name: ClassVar[str]
    credentials_spec: ClassVar[type[BaseConfiguration]]

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        """Extra rules for a row of this type: (column, message with the fix) pairs."""
        return []

    @abstractmethod
    def prepare(self, job: Job, credentials: TCredentials) -> AbstractContextManager[PreparedSource]:
        """Build the dlt resource for `job`; the context closes connections when the job is over."""

    def describe_target(self, credentials: TCredentials) -> str:
        """Where the source lives, safe to print (host/database, never a password)."""
        return ""

    @abstractmethod
    def test_connection(self, credentials: TCredentials) -> None:
        """Reach the source once with these credentials; raise what went wrong."""
