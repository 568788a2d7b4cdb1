"""`ingest run --write-back`: three columns per job row change, nothing else in the workbook does."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.styles import Font, PatternFill

from conftest import Project
from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook.template import DEMO_ROWS, write_workbook

BROKEN_ROW = {"source_type": "sqlite", "source_name": "demo", "table_name": "no_such_table", "load_type": "FULL",
              "enabled": "Y"}
WRITTEN = ("last_run_date", "last_run_status", "last_watermark")


def _workbook(project: Project) -> Path:
    """The real template (comments, drop-downs, frozen header) plus an analyst's own styling and a formula."""
    path = write_workbook(project.workbook, [*DEMO_ROWS[:2], BROKEN_ROW], source_types=REGISTRY.known_types())
    book = load_workbook(path)
    sheet = book["SourceConfig"]
    sheet["B3"].font = Font(bold=True, color="C00000")
    sheet["B3"].fill = PatternFill("solid", fgColor="FFF2CC")
    notes = book.create_sheet("Notes")
    notes["A1"] = "=1+1"
    notes["B2"] = "kept as typed"
    book.save(path)
    return path


def _snapshot(path: Path) -> dict[str, Any]:
    """Everything Excel shows, per cell and per sheet, except the three written columns of the job rows."""
    book = load_workbook(path)
    cells: dict[tuple[str, str], Any] = {}
    sheets: dict[str, Any] = {}
    for sheet in book.worksheets:
        header = {c.column: str(c.value) for c in sheet[1]} if sheet.title == "SourceConfig" else {}
        for row in sheet.iter_rows():
            for cell in row:
                if cell.row > 1 and header.get(cell.column) in WRITTEN:
                    continue
                cells[(sheet.title, cell.coordinate)] = (
                    cell.value, cell.number_format, cell.font.b, cell.font.color.rgb if cell.font.color else None,
                    cell.fill.fgColor.rgb, cell.comment.text if cell.comment else None)
        sheets[sheet.title] = (
            sheet.freeze_panes, sheet.auto_filter.ref,
            sorted((str(v.sqref), v.formula1, v.prompt) for v in sheet.data_validations.dataValidation),
            {k: d.width for k, d in sheet.column_dimensions.items()})
    return {"names": book.sheetnames, "cells": cells, "sheets": sheets}


def _written(path: Path) -> dict[str, tuple[Any, ...]]:
    sheet = load_workbook(path)["SourceConfig"]
    header = {str(c.value): c.column for c in sheet[1]}
    return {f"{sheet.cell(r, header['source_name']).value}.{sheet.cell(r, header['table_name']).value}":
            tuple(sheet.cell(r, header[name]).value for name in WRITTEN) for r in range(2, sheet.max_row + 1)}


def _max_updated_at(project: Project) -> str:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        return str(connection.execute("SELECT max(updated_at) FROM orders").fetchone()[0])


def test_write_back_changes_only_the_three_columns_of_each_job_row(project: Project) -> None:
    path = _workbook(project)
    before = _snapshot(path)
    result = project.ingest("run", "--write-back")
    assert result.exit_code == 1, result.output  # the broken job
    assert f"Note: workbook updated: {project.workbook.relative_to(project.path)} (3 job(s))" in result.output
    assert _snapshot(path) == before
    written = _written(path)
    expected_end = datetime.fromisoformat(_max_updated_at(project)).isoformat()
    assert {name: values[1:] for name, values in written.items()} == {
        "demo.orders": ("SUCCESS", expected_end),
        "demo.customers": ("SUCCESS", None),
        "demo.no_such_table": ("FAILED", None),
    }
    assert all(isinstance(values[0], datetime) for values in written.values())
    assert not list(path.parent.glob(".*.tmp"))  # the temporary file was renamed, not left behind


def test_written_back_watermark_is_accepted_and_raises_no_warning_on_the_next_run(project: Project) -> None:
    _workbook(project)
    project.ingest("run", "--write-back")
    assert project.ingest("validate-config").exit_code == 0
    project.ingest("run", "--write-back", "--select", "demo.orders")
    last = project.audit_rows()[-1]
    assert (last["job_name"], last["status"], last["warnings"]) == ("demo.orders", "SUCCESS", "")


def test_workbook_open_in_excel_is_reported_and_left_alone(project: Project) -> None:
    path = _workbook(project)
    (path.parent / f"~${path.name}").write_bytes(b"owner")
    content = path.read_bytes()
    result = project.ingest("run", "--write-back", "--select", "demo.customers")
    assert result.exit_code == 0, result.output
    assert ("Note: workbook not updated: config/ingestion_config.xlsx is open in Excel (~$ingestion_config.xlsx "
            "exists); close it and run again with --write-back") in result.output
    assert path.read_bytes() == content


@pytest.fixture
def unwritable(project: Project) -> Iterator[Path]:
    """The workbook made unwritable the way this user can: chmod, or (as root, who ignores modes) chattr +i."""
    path = _workbook(project)
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield path
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root on a filesystem without chattr +i: cannot make a file unwritable")
    yield path
    subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_workbook_is_reported_without_failing_the_run(project: Project, unwritable: Path) -> None:
    content = unwritable.read_bytes()
    result = project.ingest("run", "--write-back", "--select", "demo.customers")
    assert result.exit_code == 0, result.output
    assert "Note: workbook not updated: " in result.output
    assert "config/ingestion_config.xlsx" in result.output
    assert unwritable.read_bytes() == content
    assert not list(unwritable.parent.glob(".*.tmp"))


# --- values from the source are text, never formulas ---------------------------------------------------------

HOSTILE_CURSORS = [
    '=2+3*HYPERLINK("http://attacker.example/x","click")',
    "=cmd|' /C calc'!A0",
    "+1-2",
    "-3+4",
    "@SUM(A1:A9)",
    "\t=1+1",
    "  spaced text  ",
    "plain-cursor-0042",
]


def _string_cursor_table(project: Project, cursor: Any, kind: str = "TEXT") -> None:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute(f"CREATE TABLE events (id INTEGER PRIMARY KEY, cursor {kind} NOT NULL, note TEXT)")
        connection.execute("INSERT INTO events VALUES (1, ?, 'x')", (cursor,))


EVENTS = {"source_type": "sqlite", "source_name": "demo", "table_name": "events", "load_type": "INCREMENTAL",
          "watermark_column": "cursor", "primary_key": "id", "enabled": "Y"}


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS)
def test_a_cursor_from_the_source_is_written_as_text_and_read_back_exactly(project: Project, cursor: str) -> None:
    import zipfile

    import dlt_ingest

    _string_cursor_table(project, cursor)
    write_workbook(project.workbook, [EVENTS])
    result = project.ingest("run", "--write-back")
    assert result.exit_code == 0, result.output
    cell = load_workbook(project.workbook)["SourceConfig"]["G2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == (cursor, "s", True)
    with zipfile.ZipFile(project.workbook) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
    checked = project.ingest("validate-config")
    assert checked.exit_code == 0, checked.output
    assert dlt_ingest.load_jobs().jobs[0].last_watermark == cursor


def test_a_whole_number_cursor_beyond_excels_precision_is_written_as_text_and_read_back_exactly(
        project: Project) -> None:
    import dlt_ingest

    big = 2**60 + 7
    _string_cursor_table(project, big, kind="INTEGER")
    write_workbook(project.workbook, [EVENTS])
    assert project.ingest("run", "--write-back").exit_code == 0
    cell = load_workbook(project.workbook)["SourceConfig"]["G2"]
    assert (cell.value, cell.data_type) == (str(big), "s")
    assert dlt_ingest.load_jobs().jobs[0].last_watermark == big


def test_a_cursor_an_excel_cell_cannot_hold_is_left_out_and_said_so(project: Project) -> None:
    _string_cursor_table(project, "bad\x01value")
    write_workbook(project.workbook, [EVENTS])
    result = project.ingest("run", "--write-back")
    assert result.exit_code == 0, result.output
    assert ("last_watermark left as it was for demo.events (it holds control characters an Excel cell cannot "
            "store) (the lake's state holds it)") in " ".join(result.output.split())
    assert load_workbook(project.workbook)["SourceConfig"]["G2"].value is None
    assert project.ingest("validate-config").exit_code == 0
