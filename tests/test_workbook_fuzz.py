"""Thousands of generated workbooks: each one validates or fails with located lines and exit 2.

Never a traceback, and an invalid workbook never touches a source or the lake. Beside the random
workbooks, every family of malformed file (damaged zip parts, wrongly typed cells, deep JSON, far cells,
reserved names, credentials in cells; `workbook_variants.py`) and a sweep of damaged parts, each with 0
tracebacks, 0 wrong exit codes and 0 unlocated lines; peak memory is measured in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
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
from large_workbook import write_large_workbook
from workbook_variants import ALL, FAR_CELLS, Variant, base_workbook, rewrite

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


# --- malformed files, family by family ----------------------------------------------------------------------


def _outcome(root: Path, path: Path, command: str = "validate-config") -> Any:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return CliRunner().invoke(app, [command, "--config", str(path)])
    finally:
        os.chdir(cwd)


def _located(result: Any, path: Path) -> list[str]:
    """Every stderr line, each checked to be located: a cell, the file by name, or the closing count."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    for line in lines:
        assert line.startswith(("SourceConfig!", "warning: ", f"Error: {path}")) or line == (
            f"{path}: {len(lines) - 1} problem{'s' if len(lines) != 2 else ''}; nothing was run."), line
    return lines


@pytest.mark.parametrize("variant", ALL, ids=[v.id for v in ALL])
def test_malformed_workbook_is_refused_with_exit_2_and_a_located_line(tmp_path: Path, variant: Variant) -> None:
    (tmp_path / ".dlt").mkdir()
    path = tmp_path / "w.xlsx"
    variant.make(path)
    result = _outcome(tmp_path, path)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Internal error" not in result.output, result.output
    if variant.expect == "ok":
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    lines = _located(result, path)
    expected = [part.replace("<file>", f"Error: {path}") for part in variant.expect]
    assert any(all(part in line for part in expected) for line in lines), (expected, lines)
    assert "canary" not in result.output  # a credential typed into a cell is never echoed
    ran = _outcome(tmp_path, path, "run")
    assert ran.exit_code == 2, ran.output
    assert not any((tmp_path / d).exists() for d in ("lake", "logs", "metadata"))


def _sweep(folder: Path) -> list[tuple[str, Path]]:
    """Every part of a valid workbook cut short at several points, and with garbage spliced in."""
    source = folder / "source.xlsx"
    base_workbook(source)
    with zipfile.ZipFile(source) as archive:
        parts = archive.namelist()
    made = []
    for part in parts:
        for label, change in (
            ("cut-10", lambda d: d[: len(d) // 10]), ("cut-half", lambda d: d[: len(d) // 2]),
            ("cut-last-byte", lambda d: d[:-1]), ("empty", lambda d: b""),
            ("garbage-middle", lambda d: d[: len(d) // 2] + bytes(range(256)) + d[len(d) // 2:]),
            ("doubled", lambda d: d + d),
        ):
            path = folder / f"{len(made)}.xlsx"
            shutil.copy(source, path)
            rewrite(path, part, change)
            made.append((f"{part}:{label}", path))
    raw = source.read_bytes()
    for cut in (100, len(raw) // 3, len(raw) - 30):  # the zip file itself cut short
        path = folder / f"{len(made)}.xlsx"
        path.write_bytes(raw[:cut])
        made.append((f"file:cut-{cut}", path))
    return made


READ_PARTS = ("[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml",
              "xl/styles.xml", "xl/sharedStrings.xml")


def test_a_sweep_of_damaged_parts_gives_no_traceback_no_wrong_exit_code_and_no_unlocated_line(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    tracebacks, wrong_codes, unlocated = [], [], []
    for label, path in _sweep(tmp_path):
        result = _outcome(tmp_path, path)
        if "Traceback" in result.output or "Internal error" in result.output or not (
                result.exception is None or isinstance(result.exception, SystemExit)):
            tracebacks.append(label)
        must_fail = label.startswith((*READ_PARTS, "file:"))
        if result.exit_code not in ((2,) if must_fail else (0, 2)):
            wrong_codes.append(f"{label} -> {result.exit_code}")
        try:
            _located(result, path)
        except AssertionError as exc:
            unlocated.append(f"{label}: {exc}")
    assert (tracebacks, wrong_codes, unlocated) == ([], [], [])


_PEAK = """
import json, resource, sys
from dlt_ingest.cli.app import main
try:
    main(["validate-config", "--config", sys.argv[1]])
    code = 0
except SystemExit as exc:
    code = exc.code or 0
try:  # this process's own peak: ru_maxrss would also count the parent it was forked from
    status = open("/proc/self/status").read()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
except (OSError, IndexError, ValueError):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "peak_mb": peak_kb / 1024}))
"""


def _validate_measured(path: Path) -> dict[str, Any]:
    """validate-config in its own process; its exit code and the process's peak resident memory."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _PEAK, str(path)], cwd=path.parent, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"})
    return dict(json.loads(done.stdout.strip().splitlines()[-1]), stderr=done.stderr)


BASELINE_MB = 250  # the interpreter with dlt and the CLI imported is about 110 MB


@pytest.mark.slow
def test_a_far_formatted_cell_costs_neither_gigabytes_nor_a_refusal(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    path = tmp_path / "far.xlsx"
    FAR_CELLS[0].make(path)
    measured = _validate_measured(path)
    assert measured["code"] == 0, measured["stderr"]
    assert measured["peak_mb"] < BASELINE_MB, measured


@pytest.mark.slow
def test_a_50_mb_workbook_validates_in_bounded_memory(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    path = write_large_workbook(tmp_path / "large.xlsx", megabytes=50)
    assert path.stat().st_size > 45 * 1024 * 1024
    measured = _validate_measured(path)
    assert measured["code"] == 0, measured["stderr"]
    assert measured["peak_mb"] < BASELINE_MB, measured
