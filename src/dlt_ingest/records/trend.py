"""`ingest report --days N`: rows, durations and results per job per day, and the timelines of the latest
runs, read back from the audit files into one self-contained page (inline CSS and SVG, nothing else)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.records.audit import existing_audit_folder, read_audit
from dlt_ingest.records.html import Span, cards, day_chart, page, table, text, timeline
from dlt_ingest.records.report import ROWS_COLOUR, SECONDS_COLOUR, write_text

TIMESTAMP = "%Y-%m-%d %H:%M:%S"
LATEST_RUNS = 5  # timelines shown, newest first


def _number(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


Grid = Mapping[str, Mapping[str, Mapping[str, float]]]


def trend(rows: Iterable[Mapping[str, Any]], days: int, today: datetime) -> dict[str, dict[str, dict[str, float]]]:
    """Per job, per day (YYYY-MM-DD) that had a run: rows, seconds, runs, failures and row-count mismatches,
    for the last `days` days."""
    first = (today - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    grid: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for row in rows:
        day = str(row.get("timestamp") or "")[:10]
        if day < first or row.get("status") == "SKIPPED" or not row.get("job_name"):
            continue
        cell = grid[str(row["job_name"])].setdefault(
            day, {"rows": 0.0, "seconds": 0.0, "runs": 0.0, "failed": 0.0, "mismatched": 0.0})
        cell["rows"] += _number(row.get("rows_processed"))
        cell["seconds"] += _number(row.get("duration_seconds"))
        cell["runs"] += 1
        cell["failed"] += row.get("status") in ("FAILED", "INTERRUPTED")
        cell["mismatched"] += row.get("reconciliation") == "MISMATCH"
    return dict(grid)


def day_state(cell: Mapping[str, float] | None) -> str:
    """What a day of a job comes to: no run, FAILED (a run failed), MISMATCH (row counts differed) or SUCCESS."""
    if not cell:
        return "no run"
    if cell["failed"]:
        return "FAILED"
    return "MISMATCH" if cell.get("mismatched") else "SUCCESS"


def _moment(text_value: str | None) -> datetime | None:
    try:
        return datetime.strptime(str(text_value or ""), TIMESTAMP)
    except ValueError:
        return None


def latest_runs(rows: Iterable[Mapping[str, Any]], since: datetime,
                limit: int = LATEST_RUNS) -> list[tuple[str, list[Span]]]:
    """The timelines of the newest `limit` runs since `since`, newest first. Audit rows written before the
    `started_at` column existed start at their finish time minus their duration."""
    runs: dict[str, list[Span]] = defaultdict(list)
    for row in rows:
        end = _moment(row.get("timestamp"))
        if end is None or end < since or not row.get("run_id") or row.get("status") == "SKIPPED":
            continue
        start = _moment(row.get("started_at")) or end - timedelta(seconds=_number(row.get("duration_seconds")))
        runs[str(row["run_id"])].append(Span(str(row.get("job_name") or ""), str(row.get("worker") or "worker 1"),
                                             start, end, str(row.get("status") or "")))
    newest = sorted(runs.items(), key=lambda item: max(span.end for span in item[1]), reverse=True)
    return newest[:limit]


def render_trend(grid: Grid, days: int, today: datetime, runs: Sequence[tuple[str, list[Span]]] = ()) -> str:
    dates = [(today - timedelta(days=offset)).strftime("%Y-%m-%d") for offset in range(days - 1, -1, -1)]
    cells = [c for j in grid.values() for c in j.values()]
    body = cards([("jobs", str(len(grid))), ("days", str(days)), ("rows", f"{sum(c['rows'] for c in cells):,.0f}"),
                  ("failed runs", f"{sum(c['failed'] for c in cells):,.0f}"),
                  ("mismatches", f"{sum(c.get('mismatched', 0) for c in cells):,.0f}")])
    rows = []
    for job in sorted(grid):
        for day in dates:
            cell, state = grid[job].get(day), day_state(grid[job].get(day))
            css = state.replace(" ", "-")
            if cell is None:
                rows.append([(job, ""), (day, ""), ("", ""), ("", ""), ("", ""), (state, css)])
                continue
            rows.append([(job, ""), (day, ""), (f"{cell['runs']:.0f}", ""), (f"{cell['rows']:,.0f}", ""),
                         (f"{cell['seconds']:.1f}", ""), (state, css)])
    body += "<h2>Per job and day</h2>" + table(["job", "day", "runs", "rows", "seconds", "result"], rows,
                                               numeric=(2, 3, 4))
    for job in sorted(grid):
        marks = [(day, grid[job].get(day), day_state(grid[job].get(day))) for day in dates]
        shown = [(day, cell, "" if state in ("SUCCESS", "no run") else state) for day, cell, state in marks]
        body += (f"<h2>{text(job)}</h2><div class=\"charts\">"
                 + day_chart("Rows per day", [(d, c["rows"] if c else None, st) for d, c, st in shown], "rows",
                             ROWS_COLOUR)
                 + day_chart("Seconds per day", [(d, c["seconds"] if c else None, st) for d, c, st in shown], "s",
                             SECONDS_COLOUR) + "</div>")
    if runs:
        body += "<h2>Run timelines</h2>" + "".join(
            timeline(f"Run {run_id}: which job ran when, on which worker", spans) for run_id, spans in runs)
    return page(f"dlt-ingest: the last {days} day(s)", f"From the audit files, {dates[0]} to {dates[-1]}", body)


def write_trend_report(audit_dir: str, days: int, output: str | None = None,
                       today: datetime | None = None) -> str:
    """`ingest report`: render the trend of the last `days` days; returns the file written."""
    if days < 1:
        raise ConfigError(f"--days must be 1 or more, not {days}")
    directory = existing_audit_folder(audit_dir)
    today = today or datetime.now()
    rows = list(read_audit(directory))
    since = (today - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    content = render_trend(trend(rows, days, today), days, today, latest_runs(rows, since))
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(content, encoding="utf-8")
        return output
    return write_text(directory, f"report_{today:%Y%m%d}_{days}d.html", content)
