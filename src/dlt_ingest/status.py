"""`ingest status`: the latest audit row of every job, read back from the audit CSVs."""

from __future__ import annotations

from pathlib import Path

from dlt_ingest.audit import is_remote, read_audit
from dlt_ingest.errors import ConfigError
from dlt_ingest.settings import IngestSettings

FAILED_STATUSES = ("FAILED", "INTERRUPTED")


def last_runs(audit_dir: str | None = None, failed_only: bool = False) -> list[dict[str, str]]:
    """One row per job: its most recent audit row (files and rows are in time order)."""
    directory = audit_dir or IngestSettings.load().audit_dir
    if not is_remote(directory) and not Path(directory).is_dir():
        raise ConfigError(f"no audit folder at {directory}: run `ingest run` first, or pass --audit-dir")
    latest: dict[str, dict[str, str]] = {}
    for row in read_audit(directory):
        if row.get("status") == "SKIPPED":
            continue
        latest[row["job_name"]] = row
    rows = sorted(latest.values(), key=lambda r: r["job_name"])
    if failed_only:
        rows = [r for r in rows if r.get("status") in FAILED_STATUSES]
    return rows
