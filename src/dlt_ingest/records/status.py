"""`ingest status`: the latest audit row of every job, read back from the audit CSVs."""

from __future__ import annotations

from dlt_ingest.records.audit import existing_audit_folder, read_audit

FAILED_STATUSES = ("FAILED", "INTERRUPTED")


def last_runs(audit_dir: str, failed_only: bool = False) -> list[dict[str, str]]:
    """One row per job: its most recent audit row (files and rows are in time order)."""
    directory = existing_audit_folder(audit_dir)
    latest: dict[str, dict[str, str]] = {}
    for row in read_audit(directory):
        if row.get("status") == "SKIPPED":
            continue
        latest[row["job_name"]] = row
    rows = sorted(latest.values(), key=lambda r: r["job_name"])
    if failed_only:
        rows = [r for r in rows if r.get("status") in FAILED_STATUSES]
    return rows
