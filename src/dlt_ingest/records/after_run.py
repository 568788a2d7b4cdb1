"""What happens after the jobs of a run: the HTML report, the workbook write-back, the notification.

Each step is best-effort: its outcome is a line in `RunReport.notes` (and the log), never a failed run.
"""

from __future__ import annotations

import logging

from dlt_ingest.errors import describe
from dlt_ingest.records.notify import send_run_notification
from dlt_ingest.records.report import write_run_report
from dlt_ingest.records.writeback import update_workbook
from dlt_ingest.results import RunReport

log = logging.getLogger("dlt_ingest.engine")


def _step_failed(what: str, exc: Exception) -> str:
    reason = describe(exc)
    log.warning("%s failed: %s", what, reason)
    return f"{what} failed: {reason}"


def finish_run(report: RunReport, audit_dir: str, write_back_to: str | None = None) -> None:
    """Write `run_<run_id>.html`, update the workbook when asked, then notify (the message links both)."""
    try:
        report.report_file = write_run_report(report, audit_dir)
        log.info("Report: %s", report.report_file)
    except Exception as exc:
        report.notes.append(_step_failed("run report", exc))
    if write_back_to:
        try:
            outcome = update_workbook(write_back_to, report.results)
            (log.info if outcome.ok else log.warning)("%s", outcome.message)
            report.notes.append(outcome.message)
        except Exception as exc:
            report.notes.append(_step_failed("workbook write-back", exc))
    note = send_run_notification(report)
    if note:
        report.notes.append(note)
