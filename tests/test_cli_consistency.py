"""The rough edges a new user hit, each through the real CLI: flags, help, init-config, empty workbooks,
load_type changes, the watermark column of validate-config, status for pipes, credentials logged once."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from conftest import Project
from dlt_ingest.cli.app import app
from dlt_ingest.cli.console import Debug
from dlt_ingest.workbook.template import DEMO_ROWS

CUSTOMERS = next(r for r in DEMO_ROWS if r["table_name"] == "customers")
ORDERS = next(r for r in DEMO_ROWS if r["table_name"] == "orders")


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", _command_paths(typer.main.get_command(app)), ids=lambda p: " ".join(p) or "ingest")
def test_help_of_every_command_shows_no_value_after_a_plain_flag(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert re.search(r"--help\s+Show this message", result.output)


def test_run_help_keeps_the_settings_section_names() -> None:
    text = " ".join(CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "Default: [ingest] workers, else 1." in text


@pytest.fixture
def debug_undone() -> Iterator[None]:
    """--debug switches the process to debug logging for good (a command runs once): undone after the test."""
    root = logging.getLogger()
    level = root.level
    yield
    if Debug._handler is not None:
        root.removeHandler(Debug._handler)
    Debug.enabled, Debug._handler = False, None
    root.setLevel(level)


@pytest.mark.parametrize("args", [("run", "--debug"), ("--debug", "run")], ids=["after-the-command", "before-it"])
def test_debug_is_accepted_before_and_after_run(project: Project, debug_undone: None, args: tuple[str, ...]) -> None:
    project.write_workbook([CUSTOMERS, {**CUSTOMERS, "table_name": "missing"}])
    result = project.ingest(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" in result.stderr  # --debug shows the failed job's traceback


@pytest.mark.parametrize("name", ["jobs.csv", "jobs.xls", "jobs"])
def test_init_config_writes_only_an_xlsx(project: Project, name: str) -> None:
    result = project.ingest("init-config", name)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: {name}: a workbook is an .xlsx file: choose a path ending in .xlsx, "
                                     f"e.g. {Path(name).with_suffix('.xlsx')}")
    assert not (project.path / name).exists()


NOTHING_TO_RUN = [
    pytest.param([], (), "nothing to run: config/ingestion_config.xlsx has no job rows below its header; add one row "
                 "per table or endpoint (docs/configuration.md)", id="header-only"),
    pytest.param([{**CUSTOMERS, "enabled": "N"}], (), "nothing to run: none of the 1 row(s) of "
                 "config/ingestion_config.xlsx is enabled; set enabled to Y on the rows to run", id="all-disabled"),
    pytest.param([CUSTOMERS], ("--select", "nope.*"), "--select nope.* matches no enabled job (enabled jobs: "
                 "demo.customers)", id="select-matches-nothing"),
    pytest.param([CUSTOMERS], ("--exclude", "demo.*"), "--exclude demo.* leaves no job to run (enabled jobs: "
                 "demo.customers)", id="exclude-leaves-nothing"),
]


@pytest.mark.parametrize(("rows", "args", "message"), NOTHING_TO_RUN)
def test_a_run_with_nothing_to_run_is_a_usage_error(project: Project, rows: list[dict[str, Any]],
                                                     args: tuple[str, ...], message: str) -> None:
    project.write_workbook(rows)
    for command in (("run",), ("run", "--dry-run")):
        result = project.ingest(*command, *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == f"Error: {message}"
    assert not (project.path / "metadata").exists() and not (project.path / "lake").exists()


@pytest.mark.parametrize("rows", [[], [{**CUSTOMERS, "enabled": "N"}]], ids=["header-only", "all-disabled"])
def test_validate_config_passes_a_workbook_without_enabled_rows_and_warns(project: Project,
                                                                        rows: list[dict[str, Any]]) -> None:
    project.write_workbook(rows)
    result = project.ingest("validate-config")
    assert result.exit_code == 0, result.output
    assert ("warning: no row of config/ingestion_config.xlsx is enabled, so `ingest run` has nothing to run: set "
            "enabled to Y on the rows to run") in result.stderr


def test_switching_load_type_under_the_same_job_needs_reset_state(project: Project) -> None:
    full = {**ORDERS, "load_type": "FULL", "watermark_column": None, "last_watermark": None}
    project.write_workbook([{k: v for k, v in full.items() if v is not None}])
    assert project.ingest("run").exit_code == 0
    project.write_workbook([ORDERS])  # now INCREMENTAL
    result = project.ingest("run")
    assert result.exit_code == 1
    assert project.audit_rows()[-1]["error_message"] == (
        "load_type is INCREMENTAL in the workbook but the job's earlier loads were FULL; to load it as INCREMENTAL "
        "from now on, run once: ingest run --select 'demo.orders' --reset-state (the first INCREMENTAL run starts "
        "from last_watermark); or give the row a new table or source name to keep the two apart")
    files = len(project.lake_files("demo", "orders"))
    assert project.ingest("run", "--select", "demo.orders", "--reset-state").exit_code == 0
    assert len(project.lake_files("demo", "orders")) > files
    assert project.ingest("run").exit_code == 0  # INCREMENTAL from now on: nothing new, no complaint
    project.write_workbook([{k: v for k, v in full.items() if v is not None}])  # and back to FULL
    back = project.ingest("run")
    assert back.exit_code == 1
    assert project.audit_rows()[-1]["error_message"].startswith(
        "load_type is FULL in the workbook but the job's earlier loads were INCREMENTAL; to load it as FULL")
    assert project.ingest("run", "--select", "demo.orders", "--reset-state").exit_code == 0
    assert project.ingest("run").exit_code == 0


def test_validate_config_shows_where_an_incremental_job_starts(project: Project) -> None:
    project.write_workbook([{**ORDERS, "watermark_column": "modified_at", "last_watermark": None},
                            {**ORDERS, "table_name": "orders_copy"}, CUSTOMERS])
    text = project.ingest("validate-config").stdout
    assert "None" not in text
    assert "modified_at: every row on the first run" in text
    assert "updated_at >= 2024-01-01 00:00:00" in text


def test_credentials_are_logged_once_per_source(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    assert project.ingest("run", "--workers", "2").exit_code == 0
    log = next((project.path / "logs").glob("main_orchestrator_*.log")).read_text(encoding="utf-8")
    assert log.count("demo: credentials from config.toml") == 1


def test_status_fits_80_columns_in_a_pipe_and_has_json(project: Project) -> None:
    long_name = "a_table_with_a_name_long_enough_to_need_its_own_line"
    project.write_workbook([CUSTOMERS, {**CUSTOMERS, "table_name": long_name}])
    project.ingest("run")
    result = project.ingest("status")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Last run per job (2 job(s))"
    assert max(len(line) for line in lines) <= 80, lines
    assert any(line.startswith("demo.customers ") and " SUCCESS " in line for line in lines)
    assert f"demo.{long_name}" in lines and any(line.lstrip().startswith("FAILED ") for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith("    error: "))
    error = [lines[start].strip()] + [line.strip() for line in lines[start + 1:] if line.startswith("      ")]
    assert " ".join(error).startswith(f"error: table '{long_name}' not found")
    rows = json.loads(project.ingest("status", "--json").stdout)
    assert [(r["job_name"], r["status"]) for r in rows] == [(f"demo.{long_name}", "FAILED"),
                                                          ("demo.customers", "SUCCESS")]
    assert rows[0]["error_message"] == " ".join(error).removeprefix("error: ")


BAD_INGEST_SETTINGS = [
    ("workers = -3", "[ingest] workers = -3 in .dlt/config.toml (or INGEST__WORKERS): use 1 or more"),
    ("max_jobs_per_source = 0", "[ingest] max_jobs_per_source = 0 in .dlt/config.toml "
                                "(or INGEST__MAX_JOBS_PER_SOURCE): use 1 or more"),
    ("retry_attempts = 0", "[ingest] retry_attempts = 0 in .dlt/config.toml (or INGEST__RETRY_ATTEMPTS): "
                           "use 1 or more"),
    ("retry_backoff_seconds = -1", "retry_backoff_seconds = -1.0 in .dlt/config.toml"),
    ("heartbeat_seconds = nan", "heartbeat_seconds = nan in .dlt/config.toml"),
    ("lake_lease_seconds = 0", "lake_lease_seconds = 0 in .dlt/config.toml"),
    ("reconcile_tolerance = -1", "reconcile_tolerance = -1 in .dlt/config.toml"),
    ('workers = "four"', "[ingest] workers = 'four' is not a whole number"),
    ("[destination.filesystem]\nbucket_url = 5", "setting destination.filesystem.bucket_url = 5 (from config.toml) "
                                                "is not text: write it in quotes"),
    ("[destination.filesystem]\nlayout = true", "setting destination.filesystem.layout = True (from config.toml) "
                                               "is not text"),
]


@pytest.mark.parametrize(("line", "message"), BAD_INGEST_SETTINGS)
def test_an_ingest_setting_out_of_range_stops_the_run_with_the_fix(project: Project, line: str, message: str) -> None:
    """A limit of 0 jobs per source waited forever; every such number is refused before any job."""
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": "customers",
                             "load_type": "FULL", "enabled": "Y"}])
    project.append_config(line if line.startswith("[") else f"[ingest]\n{line}")
    result = project.ingest("run")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert project.audit_rows() == []


def test_a_database_port_that_is_no_number_fails_its_job_naming_the_setting(project: Project) -> None:
    project.append_config('[sources.pg]\nhost = "127.0.0.1"\nport = "abc"\ndatabase = "d"\nusername = "u"\n'
                          'password = "p"', "secrets.toml")
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": "t", "load_type": "FULL", "enabled": "Y"}, CUSTOMERS])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    failed, succeeded = sorted(project.audit_rows(), key=lambda r: r["status"])
    assert failed["error_message"].startswith(
        "settings of source 'pg': port = 'abc' is not a port number (a whole number from 1 to 65535): fix them "
        "under [sources.pg] in .dlt/secrets.toml")
    assert failed["attempts"] == "1"  # a wrong setting is never retried
    assert succeeded["job_name"] == "demo.customers" and succeeded["status"] == "SUCCESS"
    assert "ValueError" not in result.output
