"""Malformed workbooks, made from a valid one: damaged zip parts, wrongly typed cells, deep JSON, far cells,
reserved names. Each variant is (id, how to make it, what validation must say).

`expect` is "ok" (exit 0) or a tuple of substrings that must appear in the one located line naming the
problem: `("SourceConfig!C2", "...")` for a cell, `("<file>", "...")` for the file (the path is filled in).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dlt_ingest.workbook.columns import COLUMNS
from dlt_ingest.workbook.template import write_workbook

ROW = {"source_type": "sqlite", "source_name": "demo", "table_name": "orders", "load_type": "INCREMENTAL",
       "watermark_column": "updated_at", "last_watermark": "2024-01-01T00:00:00", "primary_key": "id", "enabled": "Y"}
SHEET = "xl/worksheets/sheet1.xml"


@dataclass(frozen=True)
class Variant:
    id: str
    make: Callable[[Path], None]
    expect: str | tuple[str, ...]


def base_workbook(path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    """A valid workbook written the way `ingest init-config` writes one."""
    return write_workbook(path, rows if rows is not None else [ROW])


def _sheet_part(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        workbook = archive.read("xl/workbook.xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(r'<sheet [^>]*name="SourceConfig"[^>]*r:id="([^"]+)"', workbook)
    assert rid is not None
    target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid.group(1)}"', rels)
    assert target is not None
    part = (target.group(1) or target.group(2)).lstrip("/")
    part = part if part.startswith("xl/") else "xl/" + part
    assert part in names
    return part


def rewrite(path: Path, part: str | None, change: Callable[[bytes], bytes | None]) -> None:
    """Replace one part of the zip (None: the SourceConfig sheet) by change(old); None drops the part."""
    part = part or _sheet_part(path)
    temp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == part:
                new = change(data)
                if new is None:
                    continue
                data = new
            target.writestr(info.filename, data)
    shutil.move(temp, path)


def _with_cell(cell_xml: str, column: str = "C", row: int = 2) -> Callable[[Path], None]:
    """Replace cell <column><row> of the sheet by raw XML (garbage inside a cell)."""
    def make(path: Path) -> None:
        base_workbook(path)

        def change(data: bytes) -> bytes:
            text = data.decode()
            pattern = rf'<c r="{column}{row}"[^>]*?(/>|>.*?</c>)'
            assert re.search(pattern, text, re.S), text[:400]
            return re.sub(pattern, cell_xml.replace("REF", f"{column}{row}"), text, count=1, flags=re.S).encode()

        rewrite(path, None, change)
    return make


def _part(part: str, change: Callable[[bytes], bytes | None]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        base_workbook(path)
        rewrite(path, part if part != "sheet" else None, change)
    return make


def _cells(**values: Any) -> Callable[[Path], None]:
    """The valid row with some cells set to typed Python values (openpyxl stores their Excel types)."""
    def make(path: Path) -> None:
        base_workbook(path)
        book = load_workbook(path)
        sheet = book["SourceConfig"]
        header = [c.value for c in sheet[1]]
        for name, value in values.items():
            sheet.cell(row=2, column=header.index(name) + 1, value=value)
        book.save(path)
    return make


def _rows(*rows: dict[str, Any]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        base_workbook(path, list(rows))
    return make


def _date_then(serial: bytes) -> Callable[[Path], None]:
    """An Excel date cell in last_watermark whose stored serial number is then replaced."""
    def make(path: Path) -> None:
        _cells(last_watermark=datetime(2024, 1, 1))(path)
        reference = _column("last_watermark") + "2"

        def change(data: bytes) -> bytes:
            pattern = rb'(<c r="' + reference.encode() + rb'"[^>]*><v>)[^<]*(</v>)'
            assert re.search(pattern, data)
            return re.sub(pattern, rb"\g<1>" + serial + rb"\g<2>", data, count=1)

        rewrite(path, None, change)
    return make


def _far_cell(value: Any) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        base_workbook(path)
        book = load_workbook(path)
        cell = book["SourceConfig"]["XFD1048576"]
        cell.font = Font(bold=True)
        cell.value = value
        book.save(path)
    return make


def _chartsheet(path: Path) -> None:
    book = Workbook()
    assert book.active is not None
    book.active.title = "Jobs"
    book.active.append(list(ROW))
    book.create_chartsheet("SourceConfig")
    book.save(path)


def _column(name: str) -> str:
    return get_column_letter([c.name for c in COLUMNS].index(name) + 1)


def _cell(name: str) -> str:
    return f"SourceConfig!{_column(name)}2"


def _truncate(fraction: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: int(len(data) * fraction)]


DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a": ' * 3000 + "1" + "}" * 3000
FILE = "<file>"

DAMAGED_PARTS = [
    Variant(f"sheet-truncated-{int(f * 100)}", _part("sheet", _truncate(f)), (FILE, "is not valid XML"))
    for f in (0.2, 0.5, 0.8, 0.97)
] + [
    Variant("content-types-garbage", _part("[Content_Types].xml", lambda d: b"\x00garbage\xff" * 20),
            (FILE, "[Content_Types].xml")),
    Variant("content-types-not-types", _part("[Content_Types].xml", lambda d: b"<Other/>"),
            (FILE, "[Content_Types].xml")),
    Variant("content-types-missing", _part("[Content_Types].xml", lambda d: None), (FILE, "[Content_Types].xml")),
    Variant("workbook-garbage", _part("xl/workbook.xml", lambda d: b"<workbook><sheets><sheet name="),
            (FILE, "xl/workbook.xml")),
    Variant("workbook-missing", _part("xl/workbook.xml", lambda d: None), (FILE, "xl/workbook.xml")),
    Variant("workbook-rels-garbage", _part("xl/_rels/workbook.xml.rels", lambda d: d[:40]),
            (FILE, "workbook.xml.rels")),
    Variant("styles-garbage", _part("xl/styles.xml", lambda d: b"<styleSheet><cellXfs><xf numFmtId='x'/>"),
            (FILE, "xl/styles.xml")),
    Variant("sheet-missing", _part("sheet", lambda d: None), (FILE, "is missing")),
    Variant("sheet-garbage-bytes", _part("sheet", lambda d: d[:300] + b"\x00\x01\x02<<<>>>" + d[300:]),
            (FILE, "is not valid XML")),
    Variant("sheet-doctype-bomb", _part("sheet", lambda d: d.replace(
        b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><worksheet', 1)
        if not d.startswith(b"<?xml") else re.sub(rb"(<\?xml[^>]*\?>)", rb'\1<!DOCTYPE w [<!ENTITY a "aaaa">]>', d,
                                                  count=1)),
        (FILE, "DTD")),
    Variant("chartsheet-named-sourceconfig", _chartsheet, (FILE, "chart")),
    Variant("cell-number-garbage", _with_cell('<c r="REF"><v>12abc</v></c>', _column("table_name")),
            (_cell("table_name"), "stores '12abc' as a number", "damaged")),
    Variant("cell-bool-garbage", _with_cell('<c r="REF" t="b"><v>2</v></c>', _column("enabled")),
            (_cell("enabled"), "as TRUE/FALSE")),
    Variant("cell-shared-index-garbage", _with_cell('<c r="REF" t="s"><v>x1</v></c>', _column("table_name")),
            (_cell("table_name"), "shared string")),
    Variant("cell-shared-index-out-of-range", _with_cell('<c r="REF" t="s"><v>999999</v></c>',
                                                         _column("table_name")),
            (_cell("table_name"), "shared string 999999")),
    Variant("cell-iso-date-garbage", _with_cell('<c r="REF" t="d"><v>yesterday</v></c>', _column("last_watermark")),
            (_cell("last_watermark"), "as a date")),
    Variant("cell-unknown-type", _with_cell('<c r="REF" t="zz"><v>1</v></c>', _column("table_name")),
            (_cell("table_name"), "unknown cell type")),
    Variant("cell-reference-outside-grid", _with_cell('<c r="XFZ9"><v>1</v></c>', _column("table_name")),
            (FILE, "outside Excel's grid")),
    Variant("cell-error-name", _with_cell('<c r="REF" t="e"><v>#NAME?</v></c>', _column("table_name")),
            (_cell("table_name"), "#NAME?")),
    Variant("cell-date-serial-out-of-range", _date_then(b"99999999999"), (_cell("last_watermark"), "no date")),
    Variant("cell-date-serial-garbage", _date_then(b"4x5"), (_cell("last_watermark"), "as a number")),
]

TYPED_CELLS = [
    Variant(f"{column}-{kind}", _cells(**{column: value}), (_cell(column), expected))
    for column in ("table_name", "schema_name", "watermark_column", "primary_key", "source_name")
    for kind, value, expected in (
        ("bool", True, "is TRUE/FALSE"),
        ("date", date(2024, 1, 1), "is a date"),
        ("datetime", datetime(2024, 1, 1, 8, 30), "is a date"),
        ("time", time(8, 30), "is a time of day"),
        ("number", 2024, "is a number"),
        ("fraction", 0.5, "is a number"),
        ("error-ref", "#REF!", "shows the error #REF!"),
        ("error-name", "#NAME?", "shows the error #NAME?"),
        ("error-na", "#N/A", "shows the error #N/A"),
        ("formula", "=HYPERLINK(\"http://x.example\",\"x\")", "is a formula"),
    )
] + [
    Variant("load_type-number", _cells(load_type=1), (_cell("load_type"), "is a number")),
    Variant("enabled-date", _cells(enabled=date(2024, 1, 1)), (_cell("enabled"), "is a date")),
    Variant("last_watermark-time", _cells(last_watermark=time(8, 30)), (_cell("last_watermark"), "is a time")),
    Variant("last_watermark-bool", _cells(last_watermark=True), (_cell("last_watermark"), "TRUE/FALSE")),
    Variant("last_watermark-fraction", _cells(last_watermark=1.5), (_cell("last_watermark"), "fraction")),
    Variant("chunk_size-date", _cells(chunk_size=date(2024, 1, 1)), (_cell("chunk_size"), "is a date")),
    Variant("api_params-number", _cells(source_type="api", api_endpoint="items", api_params=5),
            (_cell("api_params"), "is a number")),
    Variant("enabled-bool-is-fine", _cells(enabled=True), "ok"),
    Variant("last_watermark-date-is-fine", _cells(last_watermark=date(2024, 1, 1)), "ok"),
    Variant("chunk_size-number-is-fine", _cells(chunk_size=5000), "ok"),
]

API = {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
       "load_type": "FULL", "enabled": "Y"}
DEEP_JSON = [
    Variant("api_params-deep-list", _rows({**API, "api_params": DEEP}), (_cell("api_params"), "levels deep")),
    Variant("api_params-deep-object", _rows({**API, "api_params": DEEP_OBJECT}), (_cell("api_params"), "levels deep")),
    Variant("paginator-deep-object", _rows({**API, "paginator": '{"type": ' + DEEP_OBJECT + "}"}),
            (_cell("paginator"), "levels deep")),
    Variant("paginator-deep-list", _rows({**API, "paginator": "{" + '"a": ' + DEEP + "}"}),
            (_cell("paginator"), "levels deep")),
    Variant("api_params-longer-than-a-cell", _rows({**API, "api_params": '{"a": "' + "x" * 40000 + '"}'}),
            (_cell("api_params"), "not valid JSON")),  # a cell holds 32,767 characters: the rest is cut off
    Variant("api_params-ten-levels-is-parsed", _rows({**API, "api_params": '{"a": ' * 10 + "1" + "}" * 10}),
            (_cell("api_params"), "nested value")),
]

FAR_CELLS = [
    Variant("far-formatted-empty-cell", _far_cell(None), "ok"),
    Variant("far-cell-with-value", _far_cell("x"), ("SourceConfig!XFD1048576", "no header")),
]

RESERVED = [
    Variant(f"table-{name}", _rows({**ROW, "table_name": name}), (_cell("table_name"), "reserved"))
    for name in ("_dlt_pipeline_state", "_dlt_loads", "_dlt_version", "_DLT_Anything", "_dlt", "init", "Init")
] + [
    Variant("source-adls", _rows({**ROW, "source_name": "adls"}), (_cell("source_name"), "reserved")),
    Variant("source-ADLS", _rows({**ROW, "source_name": "ADLS"}), (_cell("source_name"), "reserved")),
    Variant("table-no-letters", _rows({**ROW, "table_name": "!!!"}), (_cell("table_name"), "no ASCII letter")),
    Variant("tables-collide-after-normalisation", _rows(ROW, {**ROW, "table_name": "Orders"}),
            ("SourceConfig!C3", "same")),
    Variant("tables-collide-with-spaces", _rows({**ROW, "table_name": "order items"},
                                                {**ROW, "table_name": "Order_Items"}),
            ("SourceConfig!C3", "same lake folder")),
    Variant("table-collides-with-current-table", _rows(ROW, {**ROW, "table_name": "orders_current"}),
            ("SourceConfig!C3", "current-state table")),
]

CREDENTIALS = [
    Variant("api_params-api_key", _rows({**API, "api_params": '{"api_key": "k-canary-1234"}'}),
            (_cell("api_params"), "holds a credential", "[sources.shop]")),
    Variant("api_params-token", _rows({**API, "api_params": '{"per_page": 5, "access_token": "t-canary-1234"}'}),
            (_cell("api_params"), "access_token")),
    Variant("api_endpoint-query-key", _rows({**API, "api_endpoint": "items?apikey=k-canary-1234"}),
            (_cell("api_endpoint"), "holds a credential")),
    Variant("schema-url-password", _rows({**ROW, "schema_name": "postgresql://admin:p-canary-1234@db/sales"}),
            (_cell("schema_name"), "a password in a URL")),
    Variant("table-connection-string", _rows({**ROW, "table_name": "Server=x;Password=p-canary-1234;"}),
            (_cell("table_name"), "connection string")),
    Variant("api_params-page-token-is-fine", _rows({**API, "api_params": '{"page_token": "abc"}'}), "ok"),
]

ALL = DAMAGED_PARTS + TYPED_CELLS + DEEP_JSON + FAR_CELLS + RESERVED + CREDENTIALS
