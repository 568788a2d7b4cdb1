"""Typed, immutable jobs built from validated workbook rows."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

WatermarkValue = datetime | date | int | str

_SNAKE = NamingConvention()
CURRENT_SUFFIX = "_current"  # the current-state Delta table `<table>_current` beside a job's history


class LoadType(str, Enum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"


@functools.lru_cache(maxsize=65536)
def lake_name(name: str) -> str:
    """The folder/table name dlt gives `name` in the lake (dlt's snake_case naming)."""
    return _SNAKE.normalize_identifier(name)


def pipeline_name_for(job_name: str) -> str:
    """A stable dlt pipeline name: lower case, `[a-z0-9_]`, never `__` (which breaks state restore)."""
    slug = re.sub(r"[^a-z0-9]+", "_", job_name.lower()).strip("_")
    slug = re.sub(r"_+", "_", slug)
    return f"ingest_{slug}" if slug else "ingest_job"


@dataclass(frozen=True)
class Job:
    """One enabled workbook row, ready to run."""

    source_type: str
    source_name: str
    table_name: str
    load_type: LoadType
    enabled: bool = True
    schema_name: str | None = None
    watermark_column: str | None = None
    last_watermark: WatermarkValue | None = None
    api_endpoint: str | None = None
    primary_key: tuple[str, ...] = ()
    chunk_size: int | None = None
    current_table: bool | None = None
    detect_deletes: bool | None = None  # None: the run's [ingest] detect_deletes decides
    include_columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    column_types: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    schema_evolution: str = "fail"
    row: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        """`source_name.table_name`, with the schema in between when given."""
        parts = [self.source_name, self.schema_name, self.table_name]
        return ".".join(p for p in parts if p)

    @property
    def pipeline_name(self) -> str:
        return pipeline_name_for(self.name)

    @property
    def dataset_name(self) -> str:
        """The lake folder of the source: every table of one source_name lives below it."""
        return lake_name(self.source_name)

    @property
    def lake_table(self) -> str:
        return lake_name(self.table_name)

    @property
    def is_incremental(self) -> bool:
        return self.load_type is LoadType.INCREMENTAL

    @property
    def evolves(self) -> bool:
        return self.schema_evolution == "evolve"
