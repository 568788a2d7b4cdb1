"""Run reports: `metadata/run_<run_id>.html` after every run, and `ingest report --days N` (the trend).

Both are single self-contained pages (inline CSS and SVG, no scripts, no network assets) that open from
a file share, an e-mail attachment or a Databricks workspace file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.records.audit import existing_audit_folder, read_audit
from dlt_ingest.records.html import bar_chart, cards, page, table, text
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
        ("rows", f"{report.total_rows:,}"), ("seconds", f"{report.duration_seconds:.1f}"),
        ("mismatches", str(sum(1 for r in results if r.reconciliation == "MISMATCH"))),
        ("schema changes", str(sum(1 for r in results if r.schema_changed))),
    ])
    rows = [
        [(r.job.name, ""), (r.status.value, r.status.value), (f"{r.rows:,}", ""), (f"{r.duration_seconds:.1f}", ""),
         (_watermarks(r), ""), (r.describe_schema_changes(), ""), _reconciliation(r),
         ("; ".join([r.error, *r.warnings]).strip("; "), "")]
        for r in results
    ]
    jobs = table(["job", "status", "rows", "seconds", "watermark", "schema changes", "row counts", "error / warnings"],
                 rows, numeric=(2, 3))
    charts = "<div class=\"charts\">" + bar_chart(
        "Rows per job", [(r.job.name, float(r.rows)) for r in results], "rows", ROWS_COLOUR
    ) + bar_chart(
        "Duration per job", [(r.job.name, r.duration_seconds) for r in results], "s", SECONDS_COLOUR
    ) + "</div>"
    where = f"Log {report.log_file} · audit {report.audit_file}"
    return page(f"dlt-ingest run {report.run_id}",
                f"Started {report.started_at:%Y-%m-%d %H:%M:%S}. {where}",
                summary + "<h2>Jobs</h2>" + jobs + "<h2>Rows and durations</h2>" + charts)


def write_text(location: str, name: str, content: str) -> str:
    """Write `content` to `<location>/<name>` (a folder or a bucket URL), whole; returns the path written."""
    return shown_location(write_file(f"{location.rstrip('/')}/{name}", content.encode("utf-8")))


def write_run_report(report: RunReport, audit_dir: str) -> str:
    return write_text(audit_dir, f"run_{report.run_id}.html", render_run(report))


def _number(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def trend(rows: Iterable[Mapping[str, Any]], days: int, today: datetime) -> dict[str, dict[str, dict[str, float]]]:
    """Per job, per day (YYYY-MM-DD): rows, seconds, runs and failures, for the last `days` days."""
    first = (today - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    grid: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for row in rows:
        day = str(row.get("timestamp") or "")[:10]
        if day < first or row.get("status") == "SKIPPED" or not row.get("job_name"):
            continue
        cell = grid[str(row["job_name"])].setdefault(day, {"rows": 0.0, "seconds": 0.0, "runs": 0.0, "failed": 0.0})
        cell["rows"] += _number(row.get("rows_processed"))
        cell["seconds"] += _number(row.get("duration_seconds"))
        cell["runs"] += 1
        cell["failed"] += row.get("status") in ("FAILED", "INTERRUPTED")
    return dict(grid)


def render_trend(grid: Mapping[str, Mapping[str, Mapping[str, float]]], days: int, today: datetime) -> str:
    dates = [(today - timedelta(days=offset)).strftime("%Y-%m-%d") for offset in range(days - 1, -1, -1)]
    body = cards([("jobs", str(len(grid))), ("days", str(days)),
                  ("rows", f"{sum(c['rows'] for j in grid.values() for c in j.values()):,.0f}"),
                  ("failed runs", f"{sum(c['failed'] for j in grid.values() for c in j.values()):,.0f}")])
    rows = []
    for job in sorted(grid):
        for day in dates:
            cell = grid[job].get(day)
            if cell:
                status = ("FAILED", "FAILED") if cell["failed"] else ("ok", "SUCCESS")
                rows.append([(job, ""), (day, ""), (f"{cell['runs']:.0f}", ""), (f"{cell['rows']:,.0f}", ""),
                             (f"{cell['seconds']:.1f}", ""), status])
    body += "<h2>Per job and day</h2>" + table(["job", "day", "runs", "rows", "seconds", "result"], rows,
                                               numeric=(2, 3, 4))
    for job in sorted(grid):
        per_day = [(day, grid[job].get(day, {}).get("rows", 0.0)) for day in dates]
        seconds = [(day, grid[job].get(day, {}).get("seconds", 0.0)) for day in dates]
        body += (f"<h2>{text(job)}</h2><div class=\"charts\">" + bar_chart("Rows per day", per_day, "rows", ROWS_COLOUR)
                 + bar_chart("Seconds per day", seconds, "s", SECONDS_COLOUR) + "</div>")
    return page(f"dlt-ingest: the last {days} day(s)", f"From the audit files, {dates[0]} to {dates[-1]}", body)


def write_trend_report(audit_dir: str, days: int, output: str | None = None,
                       today: datetime | None = None) -> str:
    """`ingest report`: render the trend of the last `days` days; returns the file written."""
    if days < 1:
        raise ConfigError(f"--days must be 1 or more, not {days}")
    directory = existing_audit_folder(audit_dir)
    today = today or datetime.now()
    content = render_trend(trend(read_audit(directory), days, today), days, today)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(content, encoding="utf-8")
        return output
    return write_text(directory, f"report_{today:%Y%m%d}_{days}d.html", content)
