"""The audit trail: one CSV row per job attempt result, `metadata/audit_YYYYMMDD.csv`.

The guide's columns come first so existing scripts keep working. Rows are appended whole under a lock
(thread lock plus an OS file lock), so parallel jobs and two runs on the same day never interleave.
Cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dlt_ingest.secrets.redaction import redact

GUIDE_COLUMNS = (
    "timestamp",
    "job_name",
    "status",
    "rows_processed",
    "duration_seconds",
    "partition_path",
    "error_message",
)
EXTRA_COLUMNS = (
    "run_id",
    "source_type",
    "load_type",
    "load_id",
    "watermark_start",
    "watermark_end",
    "schema_version",
    "schema_changed",
    "attempts",
    "child_tables",
    "warnings",
    "source_count",
    "lake_count",
    "reconciliation",
)
AUDIT_COLUMNS = GUIDE_COLUMNS + EXTRA_COLUMNS
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


def is_remote(location: str) -> bool:
    """A bucket URL (az://, abfss://, memory://, ...) rather than a local folder."""
    scheme = location.split("://", 1)[0] if "://" in location else ""
    return bool(scheme) and scheme != "file" and len(scheme) > 1


def remote_filesystem(location: str) -> Any:
    """An fsspec filesystem for `location`, with the lake's credentials from `[destination.filesystem]`."""
    from dlt.common.configuration import resolve_configuration
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.common.storages.fsspec_filesystem import fsspec_from_config

    config = resolve_configuration(FilesystemConfiguration(location), sections=("destination", "filesystem"))
    filesystem, _ = fsspec_from_config(config)
    return filesystem


def _local(location: str) -> Path:
    return Path(location[len("file://"):] if location.startswith("file://") else location)


def upgrade_header(text: str) -> str:
    """An audit file written by an older version, re-shaped to today's columns (new columns left empty)."""
    header = ",".join(AUDIT_COLUMNS)
    if not text or text.split("\n", 1)[0].strip("\r") == header:
        return text
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AUDIT_COLUMNS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(csv.DictReader(io.StringIO(text)))
    return buffer.getvalue()


class AuditWriter:
    """Appends audit rows to `<audit_dir>/audit_<YYYYMMDD>.csv`; `audit_dir` may be a bucket URL.

    In a bucket a row is appended by rewriting the day's file (object stores cannot append), under a
    thread lock: safe for the jobs of one run, not for two runs writing the same day at the same time.
    """

    def __init__(self, audit_dir: str | Path) -> None:
        self.location = str(audit_dir).rstrip("/")
        self._lock = threading.Lock()

    def path_for(self, when: datetime) -> str:
        return f"{self.location}/audit_{when.strftime('%Y%m%d')}.csv"

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
                existing = filesystem.cat_file(path).decode("utf-8") if filesystem.exists(path) else header
                filesystem.pipe_file(path, (upgrade_header(existing) + line).encode("utf-8"))
                return path
            local = _local(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            with local.open("a+", encoding="utf-8", newline="") as handle, _locked(handle):
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
                handle.write(line)
                handle.flush()
        return path


def read_audit(audit_dir: str | Path) -> Iterable[dict[str, str]]:
    """Every audit row under `audit_dir` (a folder or a bucket URL), oldest file first."""
    location = str(audit_dir).rstrip("/")
    if is_remote(location):
        filesystem = remote_filesystem(location)
        for path in sorted(filesystem.glob(f"{location}/audit_*.csv")):
            text = filesystem.cat_file(path).decode("utf-8")
            yield from csv.DictReader(io.StringIO(text))
        return
    for local in sorted(_local(location).glob("audit_*.csv")):
        with local.open(encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)
