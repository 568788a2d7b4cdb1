"""HTML building blocks for the reports: one page, inline CSS and inline SVG, nothing from the network.

Every text that reaches the page goes through `text()` (secrets masked, HTML escaped).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

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
.SKIPPED,.ERROR{color:#9a6700;font-weight:600}
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
