"""`ingest validate-config` through the real CLI: exact lines and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import Project
from dlt_ingest.redaction import register_secret
from dlt_ingest.workbook.template import DEMO_ROWS
from test_workbook_validation import make_workbook, row


def test_valid_workbook_lists_enabled_jobs_and_exits_0(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    result = project.ingest("validate-config")
    assert result.exit_code == 0, result.output
    assert "3 enabled job(s)" in result.stdout
    for name in ("demo.orders", "demo.customers", "demo.products"):
        assert name in result.stdout
    assert result.stdout.rstrip().endswith("config/ingestion_config.xlsx is valid.")


def test_five_mistakes_give_five_located_lines_and_exit_2(project: Project) -> None:
    make_workbook(project.workbook, [
        row(load_type="INCR"), row(enabled="maybe", table_name="a"), row(source_type="mongodb", table_name="b"),
        row(table_name="c", last_watermark="soon"), row(table_name="d;"),
    ])
    result = project.ingest("validate-config")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "SourceConfig!E2 load_type: 'INCR' is not one of FULL, INCREMENTAL"
    assert lines[1].startswith("SourceConfig!I3 enabled: 'maybe' is not one of Y, N")
    assert lines[2].startswith("SourceConfig!A4 source_type: 'mongodb' is not a known type: use one of")
    assert lines[3].startswith("SourceConfig!G5 last_watermark: 'soon' is not a date")
    assert lines[4].startswith("SourceConfig!C6 table_name: 'd;' contains ';'")
    assert lines[5] == "config/ingestion_config.xlsx: 5 problems; nothing was run."
    assert "Traceback" not in result.output


def test_missing_workbook_is_one_line_and_exit_2(project: Project) -> None:
    result = project.ingest("validate-config", "--config", "nope.xlsx")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: Workbook not found: nope.xlsx (looked in {project.path}). Pass --config PATH or --project-dir DIR, "
        "or create one with `ingest init-config nope.xlsx` (a new project: `ingest init DIR`).")


def test_run_with_invalid_workbook_runs_nothing_and_exits_2(project: Project) -> None:
    make_workbook(project.workbook, [row(load_type="INCR")])
    result = project.ingest("run")
    assert result.exit_code == 2
    assert not (project.path / "lake").exists()
    assert not (project.path / "metadata").exists()


def _cell_values(path: Path) -> list[list[object]]:
    book = load_workbook(path)
    try:
        return [[c.value for c in row] for sheet in book.worksheets for row in sheet.iter_rows()]
    finally:
        book.close()


def test_init_config_writes_a_valid_workbook_and_never_overwrites_silently(project: Project) -> None:
    first = project.ingest("init-config", "new.xlsx")
    assert first.exit_code == 0
    assert project.ingest("validate-config", "--config", "new.xlsx").exit_code == 0
    again = project.ingest("init-config", "new.xlsx")
    assert again.exit_code == 2
    assert again.stderr.strip() == (
        "Error: new.xlsx already exists: pass --force to overwrite it, or choose another path")
    assert project.ingest("init-config", "new.xlsx", "--force").exit_code == 0


def test_shipped_workbook_is_what_init_config_demo_writes(project: Project) -> None:
    shipped = Path(__file__).resolve().parent.parent / "config" / "ingestion_config.xlsx"
    assert project.ingest("init-config", "--demo", "fresh.xlsx").exit_code == 0
    assert _cell_values(shipped) == _cell_values(project.path / "fresh.xlsx"), (
        "run: ingest init-config --demo --force config/ingestion_config.xlsx")


def test_an_unexpected_error_is_one_line_without_traceback(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import dlt_ingest

    def broken(*args: object) -> None:
        raise RuntimeError("boom with canary-secret-77")

    monkeypatch.setattr(dlt_ingest, "load_jobs", broken)  # a seam: no real part can be this broken
    register_secret("canary-secret-77")
    result = project.ingest("validate-config")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Internal error: RuntimeError: boom with ***. Run again with --debug for the traceback and report it.")
