"""What a run produced, as plain data: every record (audit, report, notification, write-back) reads these.

They sit just above the workbook's `Job` (each result carries the job it is the outcome of) and import
nothing of the engine, so the records never import the runner to learn what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import pyarrow as pa

from dlt_ingest.workbook.model import Job


class JobStatus(str, Enum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    INTERRUPTED = "INTERRUPTED"


@dataclass(frozen=True)
class ColumnChange:
    """One column of the job's table that differs from what the lake holds: added, dropped or retyped."""

    column: str
    kind: str  # "added", "dropped" or "retyped"
    old_type: str = ""
    new_type: str = ""

    def __str__(self) -> str:
        if self.kind == "added":
            return f"added {self.column} {self.new_type}".rstrip()
        if self.kind == "dropped":
            return f"dropped {self.column} {self.old_type}".rstrip()
        return f"retyped {self.column} {self.old_type} -> {self.new_type}"


@dataclass
class JobResult:
    job: Job
    status: JobStatus
    started_at: datetime
    duration_seconds: float = 0.0
    rows: int = 0
    child_rows: dict[str, int] = field(default_factory=dict)
    written_folders: dict[str, str] = field(default_factory=dict)
    partition_path: str = ""
    error: str = ""
    load_id: str = ""
    watermark_start: Any = None
    watermark_end: Any = None
    schema_version: int | None = None
    schema_changes: list[ColumnChange] = field(default_factory=list)
    attempts: int = 1
    warnings: list[str] = field(default_factory=list)
    watermark_from_state: bool = False  # the run resumed from a stored cursor (not the workbook's value)
    source_count: int | None = None  # row-count reconciliation (engine.reconcile)
    lake_count: int | None = None
    reconciliation: str = ""  # MATCH, MISMATCH, ERROR, or empty when not checked
    rows_deleted: int = 0  # tombstones written for rows the source no longer holds
    worker: str = ""  # the thread that ran the job, for the run timeline
    finished_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.SUCCESS

    @property
    def schema_changed(self) -> bool:
        return bool(self.schema_changes)

    def describe_schema_changes(self) -> str:
        return "; ".join(str(change) for change in self.schema_changes)


@dataclass
class RunReport:
    run_id: str
    started_at: datetime
    results: list[JobResult] = field(default_factory=list)
    duration_seconds: float = 0.0
    log_file: str = ""
    audit_file: str = ""
    report_file: str = ""
    notes: list[str] = field(default_factory=list)  # what happened after the jobs (write-back, notifications)

    @property
    def succeeded(self) -> list[JobResult]:
        return [r for r in self.results if r.status is JobStatus.SUCCESS]

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status in (JobStatus.FAILED, JobStatus.INTERRUPTED)]

    @property
    def skipped(self) -> list[JobResult]:
        return [r for r in self.results if r.status is JobStatus.SKIPPED]

    @property
    def total_rows(self) -> int:
        return sum(r.rows for r in self.results)

    @property
    def total_deleted(self) -> int:
        return sum(r.rows_deleted for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


@dataclass(frozen=True)
class LakeTable:
    """A job's table as a catalog registers it: folders relative to the lake's root, and its columns.

    `schema` is the union of the Parquet schemas of completed loads' files (every load, or those after the
    load asked for); None when there is no such file. `newest_load` is the newest completed load with a file.
    """

    job: Job
    history_folder: str  # e.g. demo/orders
    loads_folder: str  # e.g. demo/_dlt_loads
    current_folder: str | None  # e.g. demo/orders_current, when that Delta table exists
    schema: pa.Schema | None
    newest_load: str | None = None
