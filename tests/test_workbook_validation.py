"""The workbook rules, as a table of invalid workbooks and the exact message each one must produce."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from dlt_ingest import LoadType, load_jobs
from dlt_ingest.errors import WorkbookError, WorkbookValidationError

HEADER = ["source_type", "source_name", "table_name", "schema_name", "load_type", "watermark_column",
          "last_watermark", "api_endpoint", "enabled", "primary_key", "chunk_size"]
GOOD = ["sqlite", "demo", "orders", None, "INCREMENTAL", "updated_at", "2024-01-01", None, "Y", "id", None]


def make_workbook(path: Path, rows: list[list[Any]], header: list[Any] | None = None,
                  sheet: str = "SourceConfig") -> Path:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    ws.append(header if header is not None else HEADER)
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def row(**changes: Any) -> list[Any]:
    values = dict(zip(HEADER, GOOD, strict=True))
    values.update(changes)
    return [values[c] for c in HEADER]


INVALID_ROWS = [
    pytest.param(row(load_type="INCR"), "SourceConfig!E2 load_type: 'INCR' is not one of FULL, INCREMENTAL",
                 id="bad-load-type"),
    pytest.param(row(enabled="maybe"),
                 "SourceConfig!I2 enabled: 'maybe' is not one of Y, N (yes/no, true/false and 1/0 also work)",
                 id="bad-enabled"),
    pytest.param(row(source_type="mongodb"), "SourceConfig!A2 source_type: 'mongodb' is not a known type: use one of",
                 id="unknown-type"),
    pytest.param(row(watermark_column=None),
                 "SourceConfig!F2 watermark_column: is empty but load_type is INCREMENTAL: name the column",
                 id="incremental-without-watermark"),
    pytest.param(row(last_watermark="yesterday"),
                 "SourceConfig!G2 last_watermark: 'yesterday' is not a date: use an Excel date cell or ISO-8601",
                 id="bad-watermark"),
    pytest.param(row(table_name="orders; DROP TABLE x"),
                 "SourceConfig!C2 table_name: 'orders; DROP TABLE x' contains ';': remove quotes, semicolons",
                 id="semicolon-in-name"),
    pytest.param(row(table_name='my"table'), "SourceConfig!C2 table_name: 'my\"table' contains '\"'",
                 id="quote-in-name"),
    pytest.param(row(table_name="x" * 129), "SourceConfig!C2 table_name: is 129 characters long: use at most 128",
                 id="long-name"),
    pytest.param(row(table_name="../etc"), "SourceConfig!C2 table_name: '../etc' contains a path separator",
                 id="path-in-name"),
    pytest.param(row(source_name="my-db"), "SourceConfig!B2 source_name: 'my-db' is not a valid source_name",
                 id="bad-source-name"),
    pytest.param(row(chunk_size="lots"), "SourceConfig!K2 chunk_size: 'lots' is not a whole number",
                 id="bad-chunk-size"),
    pytest.param(row(chunk_size=-5), "SourceConfig!K2 chunk_size: '-5' must be a positive whole number",
                 id="negative-chunk-size"),
    pytest.param(row(chunk_size=99999999999), "SourceConfig!K2 chunk_size: '99999999999' is more than 1,000,000: a "
                 "batch of rows is held in memory", id="huge-chunk-size"),
    pytest.param(row(table_name=None), "SourceConfig!C2 table_name: is empty: fill in table_name",
                 id="missing-table"),
    pytest.param(row(last_watermark="=TODAY()"),
                 "SourceConfig!G2 last_watermark: '=TODAY()' is a formula: type the value itself", id="formula"),
    pytest.param(row(primary_key="id,,x"), "SourceConfig!J2 primary_key: has an empty name", id="bad-primary-key"),
]


@pytest.mark.parametrize(("bad_row", "expected"), INVALID_ROWS)
def test_invalid_cell_is_reported_with_location_and_fix(tmp_path: Path, bad_row: list[Any], expected: str) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [bad_row])
    with pytest.raises(WorkbookValidationError) as caught:
        load_jobs(path)
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith(expected) for m in messages), messages


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [
        row(load_type="INCR"), row(enabled="maybe", table_name="a"), row(source_type="mongodb", table_name="b"),
        row(table_name="c", last_watermark="soon"), row(table_name="d;"),
    ])
    with pytest.raises(WorkbookValidationError) as caught:
        load_jobs(path)
    assert [p.location for p in caught.value.problems] == [
        "SourceConfig!E2", "SourceConfig!I3", "SourceConfig!A4", "SourceConfig!G5", "SourceConfig!C6"]


def test_duplicate_job_names_among_enabled_rows_are_refused(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [row(), row(), row(enabled="N")])
    with pytest.raises(WorkbookValidationError) as caught:
        load_jobs(path)
    assert [str(p) for p in caught.value.problems] == [
        "SourceConfig!C3 table_name: job 'demo.orders' has the same job name as row 2 ('demo.orders'): "
        "disable or remove one of the two rows"]


def test_header_matching_ignores_case_and_spaces_and_warns_about_unknown_columns(tmp_path: Path) -> None:
    header = [f"  {h.upper()} " for h in HEADER] + ["owner"]
    path = make_workbook(tmp_path / "w.xlsx", [[*row(), "alice"]], header=header)
    workbook = load_jobs(path)
    assert [j.name for j in workbook.jobs] == ["demo.orders"]
    assert [str(w) for w in workbook.warnings] == [
        "SourceConfig!L1 owner: unknown column, ignored (see docs/configuration.md for the known columns)"]


def test_missing_required_column_names_the_column(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "load_type"]
    path = make_workbook(tmp_path / "w.xlsx", [[v for h, v in zip(HEADER, row(), strict=True) if h != "load_type"]],
                         header=header)
    with pytest.raises(WorkbookValidationError) as caught:
        load_jobs(path)
    assert [str(p) for p in caught.value.problems] == [
        "SourceConfig!1:1 load_type: required column is missing: add a column headed 'load_type'"]


def test_duplicate_header_is_refused(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [[*row(), "x"]], header=[*HEADER, "Table_Name"])
    with pytest.raises(WorkbookValidationError) as caught:
        load_jobs(path)
    assert "SourceConfig!L1 table_name: duplicate column (also in column C)" in str(caught.value)


@pytest.mark.parametrize(("cell", "expected"), [
    ("Y", True), ("yes", True), ("TRUE", True), ("1", True), (1, True), (True, True),
    ("n", False), ("No", False), ("false", False), ("0", False), (0, False), (False, False),
])
def test_enabled_accepts_every_spelling(tmp_path: Path, cell: Any, expected: bool) -> None:
    workbook = load_jobs(make_workbook(tmp_path / "w.xlsx", [row(enabled=cell)]))
    assert bool(workbook.jobs) is expected


@pytest.mark.parametrize(("cell", "expected"), [
    (datetime(2026, 1, 15, 8, 30), datetime(2026, 1, 15, 8, 30)),
    (date(2026, 1, 15), datetime(2026, 1, 15, 0, 0)),
    ("2026-01-15", date(2026, 1, 15)),
    ("2026-01-15T08:30:00", datetime(2026, 1, 15, 8, 30)),
    ("2026-01-15 08:30:00", datetime(2026, 1, 15, 8, 30)),
    (1000, 1000),
])
def test_last_watermark_accepts_dates_iso_text_and_numbers(tmp_path: Path, cell: Any, expected: Any) -> None:
    workbook = load_jobs(make_workbook(tmp_path / "w.xlsx", [row(last_watermark=cell)]))
    assert workbook.jobs[0].last_watermark == expected


def test_rows_become_typed_jobs_and_blank_rows_are_skipped(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [
        row(load_type="incremental", primary_key="id, line", chunk_size=500), [None] * len(HEADER),
        row(table_name="Order Items", load_type="full", watermark_column=None, last_watermark=None),
    ])
    jobs = load_jobs(path).jobs
    assert [(j.row, j.name, j.load_type) for j in jobs] == [
        (2, "demo.orders", LoadType.INCREMENTAL), (4, "demo.Order Items", LoadType.FULL)]
    assert jobs[0].primary_key == ("id", "line")
    assert jobs[0].chunk_size == 500
    assert jobs[1].lake_table == "order_items"
    assert jobs[1].pipeline_name == "ingest_demo_order_items"


def test_problems_in_disabled_rows_are_warnings_not_errors(tmp_path: Path) -> None:
    workbook = load_jobs(make_workbook(tmp_path / "w.xlsx", [row(), row(enabled="N", load_type="INCR")]))
    assert [j.name for j in workbook.jobs] == ["demo.orders"]
    assert [str(w) for w in workbook.warnings] == [
        "SourceConfig!E3 load_type: 'INCR' is not one of FULL, INCREMENTAL (row is disabled)"]


def test_full_load_with_watermark_column_is_warned(tmp_path: Path) -> None:
    workbook = load_jobs(make_workbook(tmp_path / "w.xlsx", [row(load_type="FULL")]))
    assert [str(w) for w in workbook.warnings] == [
        "SourceConfig!F2 watermark_column: is ignored because load_type is FULL"]


def test_pipeline_names_never_contain_double_underscores(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [row(source_name="my__db", table_name="__weird__ name")])
    job = load_jobs(path).jobs[0]
    assert "__" not in job.pipeline_name
    assert job.pipeline_name == "ingest_my_db_weird_name"


@pytest.mark.parametrize(("filename", "content", "expected"), [
    ("missing.xlsx", None, "Workbook not found: "),
    ("jobs.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "is a .xls file; dlt-ingest reads .xlsx only"),
    ("jobs.csv", b"source_type,source_name\n", "is a .csv file; dlt-ingest reads .xlsx only"),
    ("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "is password-protected or an old .xls file"),
    ("corrupt.xlsx", b"PK\x03\x04 this is not really a zip", "is not a valid .xlsx file"),
    ("text.xlsx", b"hello", "is not a valid .xlsx file"),
])
def test_unreadable_files_get_one_clear_line(tmp_path: Path, filename: str, content: bytes | None,
                                             expected: str) -> None:
    path = tmp_path / filename
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(WorkbookError) as caught:
        load_jobs(path)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_sheet_lists_the_sheets_found(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [row()], sheet="Jobs")
    with pytest.raises(WorkbookError, match=r"has no sheet named 'SourceConfig' \(sheets found: Jobs\)"):
        load_jobs(path)


def test_empty_sheet_says_what_to_add(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [], header=[])
    with pytest.raises(WorkbookError, match="sheet 'SourceConfig' is empty: add a header row"):
        load_jobs(path)
