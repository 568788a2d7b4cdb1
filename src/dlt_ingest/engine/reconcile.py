"""Row-count reconciliation: after a database job, count the rows the source holds for the job's window
and compare them with the rows the job wrote to the lake.

The window is what the extraction selected, counted with the same filter dlt's `sql_table` used:

- FULL: every row of the table.
- INCREMENTAL: `watermark_start <= cursor <= watermark_end` (`watermark_start` is the stored cursor, or the
  workbook's `last_watermark` on a first run). That is what the read selects: dlt reads `>=` the stored
  cursor and then drops the rows at exactly that value it loaded last time (exactly-once at the boundary),
  so the count is compared with the rows the read took from the source, and the lake's share is shown
  beside it. A correct run never reports a mismatch because rows share the boundary timestamp.

Rows with a NULL cursor are never extracted and never counted. The count runs right after the load, so
a row that was committed late with a cursor inside the window (a long transaction, a back-dated
timestamp) shows up as a mismatch: exactly the row the watermark will never pick up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dlt_ingest.errors import ConfigError, describe
from dlt_ingest.results import JobResult, JobStatus
from dlt_ingest.settings import IngestSettings
from dlt_ingest.sources import RowCounter

log = logging.getLogger("dlt_ingest.engine.reconcile")

ACTIONS = ("warn", "fail", "off")
MATCH, MISMATCH, ERROR = "MATCH", "MISMATCH", "ERROR"


@dataclass(frozen=True)
class ReconcilePolicy:
    """`[ingest] reconcile_tolerance` (rows) and `reconcile_action` (warn, fail or off)."""

    tolerance: int = 0
    action: str = "warn"

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> ReconcilePolicy:
        action = str(settings.reconcile_action).strip().lower()
        if action not in ACTIONS:
            raise ConfigError(
                f"[ingest] reconcile_action = '{settings.reconcile_action}' in .dlt/config.toml is not one of "
                f"{', '.join(ACTIONS)}: fix it (warn is the default)"
            )
        if settings.reconcile_tolerance < 0:
            raise ConfigError(
                f"[ingest] reconcile_tolerance = {settings.reconcile_tolerance} in .dlt/config.toml must be 0 "
                f"or more (rows the two counts may differ by)"
            )
        return cls(settings.reconcile_tolerance, action)


def mismatch_text(result: JobResult, read: int, tolerance: int | None = None) -> str:
    """One line for summaries and notifications: both counts and the difference."""
    source, lake = result.source_count or 0, result.lake_count or 0
    allowed = f", tolerance {tolerance:,}" if tolerance is not None else ""
    again = f", plus {read - lake:,} already loaded at the boundary" if read > lake else ""
    return (f"row count mismatch: the source holds {source:,} row(s) for the window, the lake got {lake:,}{again} "
            f"(difference {read - source:+,}{allowed})")


def reconcile(result: JobResult, count_rows: RowCounter, policy: ReconcilePolicy, rows_read: int | None = None) -> None:
    """Fill `source_count`, `lake_count` and `reconciliation` of a successful database job; never raises.

    A mismatch beyond the tolerance fails the job when the action is `fail` (the rows already written and
    the advanced cursor stay: they are real rows) and is reported as a mismatch otherwise. A count that
    cannot be taken is a warning, never a failure.
    """
    job = result.job
    if policy.action == "off" or not result.ok:
        return
    after = result.watermark_start if (job.is_incremental and result.watermark_from_state) else None
    until = result.watermark_end if job.is_incremental else None
    if job.is_incremental and result.rows == 0 and until is None:
        until = after  # nothing new: the window is empty
    try:
        source_count = int(count_rows(after, until))
    except Exception as exc:
        reason = describe(exc)
        result.reconciliation = ERROR
        result.warnings.append(f"row count check failed: {reason}")
        log.warning("%s: row count check failed: %s", job.name, reason)
        return
    result.source_count, result.lake_count = source_count, result.rows
    read = result.rows if rows_read is None else rows_read  # what the read took; the lake got it minus repeats
    if abs(read - source_count) <= policy.tolerance:
        result.reconciliation = MATCH
        log.info("%s: row counts match (source %s, lake %s)", job.name, f"{source_count:,}", f"{result.rows:,}")
        return
    result.reconciliation = MISMATCH
    text = mismatch_text(result, read, policy.tolerance)
    log.log(logging.ERROR if policy.action == "fail" else logging.WARNING, "[MISMATCH] %s: %s", job.name, text)
    if policy.action == "fail":
        result.status = JobStatus.FAILED
        result.error = text
