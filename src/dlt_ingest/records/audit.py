"""The audit trail: one CSV row per job attempt result, `metadata/audit_YYYYMMDD.csv`.

The guide's columns come first so existing scripts keep working. Rows are appended whole under a lock
(thread lock plus an OS file lock), so parallel jobs and two runs on the same day never interleave.
Cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.redaction import redact
from dlt_ingest.results import JobResult
from dlt_ingest.storage import is_remote, local_path, remote_filesystem, shown_location

log = logging.getLogger("dlt_ingest.audit")


@dataclass(frozen=True)
class AuditColumn:
    """One column of the audit CSV: its name and how a job's result fills it."""

    name: str
    value: Callable[[JobResult, str], Any]  # (result, run_id) -> cell


def _child_tables(result: JobResult) -> str:
    return ";".join(f"{name}={rows}" for name, rows in sorted(result.child_rows.items()))


# The guide's columns come first, so existing scripts keep working; a new column is one line here (and
# its row in docs/operations.md, which a test checks).
COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("timestamp", lambda r, _: (r.finished_at or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")),
    AuditColumn("job_name", lambda r, _: r.job.name),
    AuditColumn("status", lambda r, _: r.status.value),
    AuditColumn("rows_processed", lambda r, _: r.rows),
    AuditColumn("duration_seconds", lambda r, _: r.duration_seconds),
    AuditColumn("partition_path", lambda r, _: r.partition_path),
    AuditColumn("error_message", lambda r, _: r.error),
    AuditColumn("run_id", lambda _, run_id: run_id),
    AuditColumn("source_type", lambda r, _: r.job.source_type),
    AuditColumn("load_type", lambda r, _: r.job.load_type.value),
    AuditColumn("load_id", lambda r, _: r.load_id),
    AuditColumn("watermark_start", lambda r, _: r.watermark_start),
    AuditColumn("watermark_end", lambda r, _: r.watermark_end),
    AuditColumn("schema_version", lambda r, _: r.schema_version),
    AuditColumn("schema_changed", lambda r, _: r.schema_changed),
    AuditColumn("schema_changes", lambda r, _: r.describe_schema_changes()),
    AuditColumn("attempts", lambda r, _: r.attempts),
    AuditColumn("child_tables", lambda r, _: _child_tables(r)),
    AuditColumn("warnings", lambda r, _: " | ".join(r.warnings)),
    AuditColumn("source_count", lambda r, _: r.source_count),
    AuditColumn("lake_count", lambda r, _: r.lake_count),
    AuditColumn("reconciliation", lambda r, _: r.reconciliation),
    AuditColumn("started_at", lambda r, _: r.started_at.strftime("%Y-%m-%d %H:%M:%S")),
    AuditColumn("worker", lambda r, _: r.worker),
    AuditColumn("rows_deleted", lambda r, _: r.rows_deleted),
)
AUDIT_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS)
GUIDE_COLUMNS = AUDIT_COLUMNS[:7]


def audit_row(result: JobResult, run_id: str) -> dict[str, Any]:
    return {column.name: column.value(result, run_id) for column in COLUMNS}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """Render a cell so a spreadsheet shows it as text, never runs it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # negative numbers stay numbers
    text = redact(value if isinstance(value, str) else str(value))
    text = " ".join(text.split()) if ("\n" in text or "\r" in text) else text
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


@contextmanager
def _locked(handle: IO[str]) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: the thread lock still protects one process
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


KEEP_BYTES = "surrogateescape"  # bytes that are no UTF-8 (a damaged file) are written back as they were


def upgrade_header(text: str) -> str:
    """An audit file written by an older version, re-shaped to today's columns (new columns left empty)."""
    if not text or text.split("\n", 1)[0].strip("\r") == ",".join(AUDIT_COLUMNS):
        return text
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AUDIT_COLUMNS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    lines = text.splitlines(keepends=True)
    old_columns = next(csv.reader([lines[0]]), [])
    for line in lines[1:]:
        values = _fields(line, old_columns)
        if values is None:  # a damaged line stays as it was
            buffer.write(line if line.endswith("\n") else line + "\n")
        elif values:
            writer.writerow(dict(zip(old_columns, values, strict=True)))
    return buffer.getvalue()


def _fields(line: str, header: list[str]) -> list[str] | None:
    """The values of one audit line ([] for a blank one), or None when it is damaged."""
    if not line.strip():
        return []
    values = next(csv.reader([line.replace("\0", "")]), [])
    if len(values) != len(header) or any("\n" in v or "\r" in v for v in values):
        return None
    return values


class AuditWriter:
    """Appends audit rows to `<audit_dir>/audit_<YYYYMMDD>.csv`; `audit_dir` may be a bucket URL.

    In a bucket a row is appended by rewriting the day's file (object stores cannot append), under a
    thread lock: safe for the jobs of one run, not for two runs writing the same day at the same time.
    """

    def __init__(self, audit_dir: str | Path, suffix: str = "") -> None:
        self.location = str(audit_dir).rstrip("/")
        self.suffix = suffix  # a fan-out slice's own file (`audit_<day>_<slice>.csv`): no two machines rewrite one
        self._lock = threading.Lock()

    def path_for(self, when: datetime) -> str:
        return f"{self.location}/audit_{when.strftime('%Y%m%d')}{self.suffix}.csv"

    def write_result(self, result: JobResult, run_id: str) -> str:
        return self.write(audit_row(result, run_id), result.finished_at)

    def write(self, row: Mapping[str, Any], when: datetime | None = None) -> str:
        when = when or datetime.now()
        path = self.path_for(when)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([neutralise(row.get(column)) for column in AUDIT_COLUMNS])
        line = buffer.getvalue()
        header = ",".join(AUDIT_COLUMNS) + "\n"
        with self._lock:
            if is_remote(self.location):
                filesystem = remote_filesystem(self.location)
                existing = filesystem.cat_file(path).decode("utf-8", KEEP_BYTES) if filesystem.exists(path) else header
                existing = upgrade_header(existing)
                if existing and not existing.endswith("\n"):
                    existing += "\n"  # a line cut short (a crash, a hand edit) never swallows this row
                filesystem.pipe_file(path, (existing + line).encode("utf-8", KEEP_BYTES))
                return path
            local = local_path(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            with local.open("a+", encoding="utf-8", errors=KEEP_BYTES, newline="") as handle, _locked(handle):
                if handle.tell() == 0:
                    handle.write(header)
                else:
                    handle.seek(0)
                    existing = handle.read()
                    upgraded = upgrade_header(existing)
                    if upgraded != existing:  # a file from an older version: same lock, rewritten in place
                        handle.seek(0)
                        handle.truncate()
                        handle.write(upgraded)
                    handle.seek(0, io.SEEK_END)
                    if upgraded and not upgraded.endswith("\n"):
                        handle.write("\n")  # a line cut short (a crash, a hand edit) never swallows this row
                handle.write(line)
                handle.flush()
        return path


def existing_audit_folder(audit_dir: str) -> str:
    """`audit_dir` when it can hold audit files (a bucket, or a folder that exists), else the fix."""
    if not is_remote(audit_dir) and not local_path(audit_dir).is_dir():
        raise ConfigError(f"no audit folder at {shown_location(audit_dir)}: run `ingest run` first, or pass "
                          f"--audit-dir")
    return audit_dir


def read_audit(audit_dir: str | Path) -> Iterable[dict[str, str]]:
    """Every audit row under `audit_dir` (a folder or a bucket URL), oldest file first."""
    location = str(audit_dir).rstrip("/")
    if is_remote(location):
        filesystem = remote_filesystem(location)
        for path in sorted(filesystem.glob(f"{location}/audit_*.csv")):
            text = filesystem.cat_file(path).decode("utf-8", "replace")
            yield from audit_lines(io.StringIO(text), path)
        return
    for local in sorted(local_path(location).glob("audit_*.csv")):
        with local.open(encoding="utf-8", errors="replace", newline="") as handle:
            yield from audit_lines(handle, str(local))


def audit_lines(handle: Iterable[str], name: str = "an audit file") -> Iterator[dict[str, str]]:
    """The rows of one audit file, one per line (the writer folds every value onto one line), so a damaged
    line (bytes that are no UTF-8, a NUL, a quote never closed, a wrong number of fields) costs only itself:
    it is left out, with a warning, and the lines after it are read."""
    lines = iter(handle)
    first = next(lines, None)
    if first is None:
        return
    header = next(csv.reader([first.replace("\0", "")]), [])
    damaged = 0
    for line in lines:
        values = _fields(line, header)
        if values is None:
            damaged += 1
        elif values:
            yield dict(zip(header, values, strict=True))
    if damaged:
        log.warning("%s: %d damaged line(s) left out (not audit rows dlt-ingest wrote)", name, damaged)
