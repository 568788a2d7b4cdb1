"""HTML building blocks for the reports: one page, inline CSS and inline SVG, nothing from the network.

Every text that reaches the page goes through `text()` (secrets masked, HTML escaped).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dlt_ingest.redaction import redact

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#656d76;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 16px;min-width:110px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.SUCCESS,.MATCH{color:#1a7f37;font-weight:600}.FAILED,.INTERRUPTED,.MISMATCH{color:#cf222e;font-weight:600}
.SKIPPED,.ERROR{color:#9a6700;font-weight:600}.no-run{color:#8c959f}
.charts{display:flex;gap:24px;flex-wrap:wrap}svg text{font-size:11px;fill:#1f2328}
"""

BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH = 18, 6, 220, 320


def text(value: object) -> str:
    return html.escape(redact("" if value is None else value))


def page(title: str, subtitle: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{text(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{text(title)}</h1><div class=\"muted\">{text(subtitle)}</div>{body}</body></html>\n"
    )


def cards(items: Sequence[tuple[str, str]]) -> str:
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><b>{text(value)}</b><span class=\"muted\">{text(label)}</span></div>"
        for label, value in items
    ) + "</div>"


def table(headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]], numeric: Sequence[int] = ()) -> str:
    """`rows` hold (text, css class) pairs; columns listed in `numeric` are right-aligned."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for index, (value, css) in enumerate(row):
            classes = " ".join(c for c in (css, "num" if index in numeric else "") if c)
            cells.append(f"<td class=\"{classes}\">{text(value)}</td>" if classes else f"<td>{text(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bar_chart(title: str, bars: Sequence[tuple[str, float]], unit: str, colour: str) -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per item, scaled to the largest."""
    largest = max((value for _, value in bars), default=0) or 1
    height = 24 + len(bars) * (BAR_HEIGHT + GAP)
    width = LABEL_WIDTH + BAR_WIDTH + 90
    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" "
             f"aria-label=\"{text(title)}\"><text x=\"0\" y=\"14\" font-weight=\"600\">{text(title)}</text>"]
    for index, (label, value) in enumerate(bars):
        y = 24 + index * (BAR_HEIGHT + GAP)
        length = max(1.0, BAR_WIDTH * value / largest) if value else 0.0
        shown = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
        parts.append(
            f"<text x=\"{LABEL_WIDTH - 6}\" y=\"{y + 13}\" text-anchor=\"end\">{text(label[:34])}</text>"
            f"<rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{length:.1f}\" height=\"{BAR_HEIGHT}\" fill=\"{colour}\">"
            f"<title>{text(label)}: {shown} {text(unit)}</title></rect>"
            f"<text x=\"{LABEL_WIDTH + length + 6:.1f}\" y=\"{y + 13}\">{shown} {text(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


DAY_WIDTH, DAY_CHART_HEIGHT = 64, 120
NO_RUN, STATE_COLOURS = "#8c959f", {"FAILED": "#cf222e", "MISMATCH": "#bc4c00"}


def day_chart(title: str, days: Sequence[tuple[str, float | None, str]], unit: str, colour: str) -> str:
    """One column per day (oldest first) as inline SVG; a day without a run says so instead of drawing 0.

    `days` holds (YYYY-MM-DD, value or None for no run, state: "" or FAILED or MISMATCH); a day with a state
    gets its colour and its state written under the date.
    """
    largest = max((value for _, value, _ in days if value), default=0) or 1
    top, bottom = 30, 40
    width, height = max(len(days), 1) * DAY_WIDTH + 10, top + DAY_CHART_HEIGHT + bottom
    base = top + DAY_CHART_HEIGHT
    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" "
             f"aria-label=\"{text(title)}\"><text x=\"0\" y=\"14\" font-weight=\"600\">{text(title)}</text>",
             f"<line x1=\"0\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#d0d7de\"/>"]
    for index, (day, value, state) in enumerate(days):
        x = 10 + index * DAY_WIDTH
        middle = x + (DAY_WIDTH - 16) / 2
        parts.append(f"<text x=\"{middle:.1f}\" y=\"{base + 14}\" text-anchor=\"middle\">{text(day[5:])}</text>")
        if value is None:
            parts.append(f"<text x=\"{middle:.1f}\" y=\"{base - 6}\" text-anchor=\"middle\" style=\"fill:{NO_RUN}\" "
                         f"class=\"no-run\">no run<title>{text(day)}: no run</title></text>")
            continue
        length = max(1.0, DAY_CHART_HEIGHT * value / largest) if value else 0.0
        shown = f"{value:,.1f}" if not float(value).is_integer() else f"{int(value):,}"
        fill = STATE_COLOURS.get(state, colour)
        parts.append(
            f"<rect x=\"{x}\" y=\"{base - length:.1f}\" width=\"{DAY_WIDTH - 16}\" height=\"{length:.1f}\" "
            f"fill=\"{fill}\"><title>{text(day)}: {shown} {text(unit)}{' ' + text(state) if state else ''}"
            f"</title></rect><text x=\"{middle:.1f}\" y=\"{base - length - 4:.1f}\" text-anchor=\"middle\">"
            f"{shown}</text>")
        if state:
            parts.append(f"<text x=\"{middle:.1f}\" y=\"{base + 28}\" text-anchor=\"middle\" style=\"fill:{fill}\" "
                         f"font-weight=\"600\" class=\"state\">{text(state)}</text>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Span:
    """One job on the run timeline: which worker ran it, from when to when, how it ended."""

    job: str
    worker: str
    start: datetime
    end: datetime
    status: str


LANE_HEIGHT, LANE_LABEL, TIMELINE_WIDTH = 26, 90, 760
STATUS_COLOURS = {"SUCCESS": "#2da44e", "FAILED": "#cf222e", "INTERRUPTED": "#cf222e", "SKIPPED": "#bf8700"}


def timeline(title: str, spans: Sequence[Span]) -> str:
    """Which job ran when on which worker, as inline SVG: a lane per worker, a bar per job."""
    if not spans:
        return ""
    first, last = min(s.start for s in spans), max(s.end for s in spans)
    seconds = max((last - first).total_seconds(), 1.0)
    lanes = sorted({s.worker for s in spans}, key=lambda w: (len(w), w))
    top = 24
    height = top + len(lanes) * LANE_HEIGHT + 24
    width = LANE_LABEL + TIMELINE_WIDTH + 10

    def x_of(moment: datetime) -> float:
        return LANE_LABEL + TIMELINE_WIDTH * (moment - first).total_seconds() / seconds

    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" "
             f"aria-label=\"{text(title)}\"><text x=\"0\" y=\"14\" font-weight=\"600\">{text(title)}</text>"]
    for index, lane in enumerate(lanes):
        y = top + index * LANE_HEIGHT
        parts.append(f"<text x=\"0\" y=\"{y + 16}\">{text(lane)}</text>"
                     f"<line x1=\"{LANE_LABEL}\" y1=\"{y + LANE_HEIGHT - 2}\" x2=\"{width}\" "
                     f"y2=\"{y + LANE_HEIGHT - 2}\" stroke=\"#eaeef2\"/>")
    for span in spans:
        y = top + lanes.index(span.worker) * LANE_HEIGHT
        x, end = x_of(span.start), x_of(span.end)
        bar = max(end - x, 2.0)
        label = span.job if bar > 7 * len(span.job) else ""
        parts.append(
            f"<rect x=\"{x:.1f}\" y=\"{y + 2}\" width=\"{bar:.1f}\" height=\"{LANE_HEIGHT - 6}\" rx=\"3\" "
            f"fill=\"{STATUS_COLOURS.get(span.status, '#8c959f')}\"><title>{text(span.job)} ({text(span.worker)}): "
            f"{text(span.status)}, {span.start:%H:%M:%S} to {span.end:%H:%M:%S}</title></rect>"
            + (f"<text x=\"{x + 4:.1f}\" y=\"{y + 16}\" style=\"fill:#fff\">{text(label)}</text>" if label else ""))
    axis = top + len(lanes) * LANE_HEIGHT + 14
    for moment, anchor in ((first, "start"), (first + (last - first) / 2, "middle"), (last, "end")):
        parts.append(f"<text x=\"{x_of(moment):.1f}\" y=\"{axis}\" text-anchor=\"{anchor}\">"
                     f"{moment:%H:%M:%S}</text>")
    parts.append("</svg>")
    return "".join(parts)
