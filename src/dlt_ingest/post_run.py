"""What happens after the jobs of a run: the HTML report, the workbook write-back, the notification.

Each step is best-effort: its outcome is a line in `RunReport.notes` (and the log), never a failed run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dlt_ingest.secrets.redaction import redact
from dlt_ingest.settings import IngestSettings

if TYPE_CHECKING:
    from dlt_ingest.orchestrator import RunReport

log = logging.getLogger("dlt_ingest.run")


def _step_failed(what: str, exc: Exception) -> str:
    reason = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
    log.warning("%s failed: %s", what, reason)
    return f"{what} failed: {reason}"


def finish_run(report: RunReport, settings: IngestSettings, write_back_to: str | None = None) -> None:
    """Write `run_<run_id>.html`, update the workbook when asked, then notify (the message links both)."""
    from dlt_ingest.notify import send_run_notification
    from dlt_ingest.report import write_run_report

    try:
        report.report_file = write_run_report(report, settings.audit_dir)
        log.info("Report: %s", report.report_file)
    except Exception as exc:
        report.notes.append(_step_failed("run report", exc))
    if write_back_to:
        from dlt_ingest.config.writeback import update_workbook

        try:
            outcome = update_workbook(write_back_to, report.results)
            (log.info if outcome.ok else log.warning)("%s", outcome.message)
            report.notes.append(outcome.message)
        except Exception as exc:
            report.notes.append(_step_failed("workbook write-back", exc))
    note = send_run_notification(report)
    if note:
        report.notes.append(note)
