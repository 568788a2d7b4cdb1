"""Thousands of generated workbooks: each one validates or fails with located lines and exit 2.

Never a traceback, and an invalid workbook never touches a source or the lake.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError
from typer.testing import CliRunner

from dlt_ingest.cli.app import app
from dlt_ingest.workbook.columns import COLUMNS

KNOWN = [c.name for c in COLUMNS]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF), max_size=40)
CELL = st.one_of(
    st.none(),
    st.sampled_from(["Y", "N", "yes", "0", "FULL", "incremental", "INCR", "sqlite", "demo", "orders", "updated_at",
                     "2024-01-01", "2024-13-45", "01/02/2024", "=1+1", "=NOW()", "  ", "id, ,x", "..", "a;b",
                     "http://x.example/y", "{\"a\": 1}", "{bad json", "postgresql", "api", "oracle"]),
    TEXT,
    st.text(min_size=200, max_size=3000),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.times(),
)
HEADER = st.lists(st.one_of(st.sampled_from(KNOWN), st.sampled_from([k.upper() + " " for k in KNOWN]), TEXT),
                  min_size=0, max_size=16)


@st.composite
def workbooks(draw: st.DrawFn) -> dict[str, Any]:
    header = draw(HEADER)
    width = max(len(header), 1)
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=width + 2), max_size=6))
    merges = draw(st.lists(st.tuples(st.integers(1, 6), st.integers(1, width)), max_size=2))
    sheet = draw(st.sampled_from(["SourceConfig", "SourceConfig", "SourceConfig", "Sheet1"]))
    return {"header": header, "rows": rows, "merges": merges, "sheet": sheet}


def _write(path: Path, spec: dict[str, Any]) -> bool:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = spec["sheet"]
    try:
        if spec["header"]:
            ws.append(spec["header"])
        for row in spec["rows"]:
            ws.append([v.isoformat() if isinstance(v, time) else v for v in row])
    except (IllegalCharacterError, ValueError):
        return False  # not a workbook Excel could hold either
    for row, column in spec["merges"]:
        ws.merge_cells(start_row=row, start_column=column, end_row=row + 1, end_column=column + 1)
    book.save(path)
    return True


def _assert_clean_outcome(result: Any) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines
        for line in lines:
            assert line.startswith(("SourceConfig!", "Error: ", "warning: ")) or line.endswith(
                "nothing was run."), line


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=workbooks())
def test_any_workbook_validates_or_fails_with_located_lines(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / ".dlt").mkdir()
        path = root / "w.xlsx"
        if not _write(path, spec):
            return
        cwd = os.getcwd()
        os.chdir(root)
        try:
            runner = CliRunner()
            validated = runner.invoke(app, ["validate-config", "--config", str(path)])
            _assert_clean_outcome(validated)
            if validated.exit_code == 2:
                ran = runner.invoke(app, ["run", "--config", str(path)])
                _assert_clean_outcome(ran)
                assert ran.exit_code == 2
                assert not any((root / d).exists() for d in ("lake", "logs", "metadata"))
        finally:
            os.chdir(cwd)
