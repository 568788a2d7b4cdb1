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


class AuditWriter:
    """Appends audit rows to `<audit_dir>/audit_<YYYYMMDD>.csv`."""

    def __init__(self, audit_dir: str | Path) -> None:
        self.audit_dir = Path(audit_dir)
        self._lock = threading.Lock()

    def path_for(self, when: datetime) -> Path:
        return self.audit_dir / f"audit_{when.strftime('%Y%m%d')}.csv"

    def write(self, row: Mapping[str, Any], when: datetime | None = None) -> Path:
        when = when or datetime.now()
        path = self.path_for(when)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([neutralise(row.get(column)) for column in AUDIT_COLUMNS])
        line = buffer.getvalue()
        with self._lock:
            self.audit_dir.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8", newline="") as handle, _locked(handle):
                if handle.tell() == 0:
                    handle.write(",".join(AUDIT_COLUMNS) + "\n")
                handle.write(line)
                handle.flush()
        return path


def read_audit(audit_dir: str | Path) -> Iterable[dict[str, str]]:
    """Every audit row under `audit_dir`, oldest file first."""
    for path in sorted(Path(audit_dir).glob("audit_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)
