"""The run report `metadata/run_<run_id>.html`, written after every run (the trend is `records/trend.py`).

A single self-contained page (inline CSS and SVG, no scripts, no network assets) that opens from a file
share, an e-mail attachment or a Databricks workspace file.
"""

from __future__ import annotations

from datetime import datetime

from dlt_ingest.records.html import Span, bar_chart, cards, page, table, timeline
from dlt_ingest.results import JobResult, RunReport
from dlt_ingest.storage import shown_location, write_file

ROWS_COLOUR, SECONDS_COLOUR = "#0969da", "#8250df"


def _watermarks(result: JobResult) -> str:
    if not result.job.is_incremental:
        return "(full table)"
    if result.watermark_end is None or result.watermark_end == result.watermark_start:
        return f"{result.watermark_start} (unchanged)" if result.watermark_start is not None else ""
    return f"{result.watermark_start if result.watermark_start is not None else '(beginning)'} → {result.watermark_end}"


def _reconciliation(result: JobResult) -> tuple[str, str]:
    if not result.reconciliation:
        return ("", "")
    if result.source_count is None:
        return (result.reconciliation, result.reconciliation)
    return (f"{result.reconciliation} (source {result.source_count:,}, lake {result.lake_count or 0:,})",
            result.reconciliation)


def render_run(report: RunReport) -> str:
    results = report.results
    summary = cards([
        ("jobs", str(len(results))), ("succeeded", str(len(report.succeeded))), ("failed", str(len(report.failed))),
        ("rows", f"{report.total_rows:,}"), ("deleted", f"{report.total_deleted:,}"),
        ("seconds", f"{report.duration_seconds:.1f}"),
        ("mismatches", str(sum(1 for r in results if r.reconciliation == "MISMATCH"))),
        ("schema changes", str(sum(1 for r in results if r.schema_changed))),
    ])
    rows = [
        [(r.job.name, ""), (r.status.value, r.status.value), (f"{r.rows:,}", ""), (f"{r.rows_deleted:,}", ""),
         (f"{r.duration_seconds:.1f}", ""),
         (_watermarks(r), ""), (r.describe_schema_changes(), ""), _reconciliation(r),
         ("; ".join([r.error, *r.warnings]).strip("; "), "")]
        for r in results
    ]
    jobs = table(["job", "status", "rows", "deleted", "seconds", "watermark", "schema changes", "row counts",
                  "error / warnings"], rows, numeric=(2, 3, 4))
    charts = "<div class=\"charts\">" + bar_chart(
        "Rows per job", [(r.job.name, float(r.rows)) for r in results], "rows", ROWS_COLOUR
    ) + bar_chart(
        "Duration per job", [(r.job.name, r.duration_seconds) for r in results], "s", SECONDS_COLOUR
    ) + "</div>"
    where = f"Log {report.log_file} · audit {report.audit_file}"
    spans = [Span(r.job.name, r.worker or "worker 1", r.started_at, r.finished_at or datetime.now(), r.status.value)
             for r in results]
    return page(f"dlt-ingest run {report.run_id}",
                f"Started {report.started_at:%Y-%m-%d %H:%M:%S}. {where}",
                summary + "<h2>Jobs</h2>" + jobs + "<h2>Rows and durations</h2>" + charts
                + "<h2>Timeline</h2>" + timeline("Which job ran when, on which worker", spans))


def write_text(location: str, name: str, content: str) -> str:
    """Write `content` to `<location>/<name>` (a folder or a bucket URL), whole; returns the path written."""
    return shown_location(write_file(f"{location.rstrip('/')}/{name}", content.encode("utf-8")))


def write_run_report(report: RunReport, audit_dir: str) -> str:
    return write_text(audit_dir, f"run_{report.run_id}.html", render_run(report))
