"""SIGKILL against a real `ingest run` process at each step, on local disk and on Azurite: the next run
completes, and the lake (read by the documented reading rule) holds every source row exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import Project
from crash_points import COMPARE, CRASH_POINTS
from lake_backends import AzuriteLake, LocalLake
from reading_rule import checksum, lake_rows, live_key_values, orphan_files, read_completed

FIRST_ROWS, NEW_ROWS = 4_000, 16_000
FILE_MAX_ITEMS = "4000"  # several data files per load, so a kill can land between two uploads
JOB = {"source_type": "sqlite", "source_name": "demo", "table_name": "events", "load_type": "INCREMENTAL",
       "watermark_column": "updated_at", "primary_key": "id", "chunk_size": 1000, "enabled": "Y"}


def add_events(database: Path, first_id: int, count: int) -> None:
    with sqlite3.connect(database) as connection:
        connection.executescript(f"""
            CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, payload TEXT, updated_at TIMESTAMP);
            WITH RECURSIVE n(i) AS (SELECT {first_id} UNION ALL SELECT i + 1 FROM n WHERE i < {first_id + count - 1})
            INSERT INTO events SELECT i, printf('event-%08d', i), datetime('2024-01-01', '+' || i || ' seconds')
            FROM n;
        """)


def source_events(database: Path) -> tuple[list[tuple[Any, ...]], str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id, payload FROM events").fetchall()
        [(newest,)] = connection.execute("SELECT max(updated_at) FROM events").fetchall()
    return rows, newest


CRASHING_RUN = Path(__file__).with_name("crash_points.py")


def run_killed_at(project: Project, point: str) -> subprocess.CompletedProcess[str]:
    """A real run of the project in its own process, killed (SIGKILL) when it reaches `point`."""
    full_env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    return subprocess.run([sys.executable, str(CRASHING_RUN), point], cwd=project.path, env=full_env,
                          capture_output=True, text=True, timeout=180)


def assert_exactly_once(project: Project, lake: Any) -> None:
    expected, _ = source_events(project.path / "data" / "demo.sqlite")
    loaded = lake_rows(read_completed(lake, "demo", "events"), "id", "payload")
    assert len(loaded) == len(expected) == len({row[0] for row in loaded})
    assert checksum(loaded) == checksum([tuple(r) for r in expected])


def assert_watermark_consistent(project: Project) -> None:
    """The audit's cursor is the source's newest value, and one more run finds nothing new to load."""
    _, newest = source_events(project.path / "data" / "demo.sqlite")
    assert project.audit_rows()[-1]["watermark_end"].replace("T", " ").startswith(newest)
    again = project.ingest("run")
    assert again.exit_code == 0, again.output
    last = project.audit_rows()[-1]
    assert (last["status"], last["rows_processed"]) == ("SUCCESS", "0")


@pytest.fixture(params=["local", "azurite"])
def lake(request: pytest.FixtureRequest, project: Project) -> Any:
    if request.param == "local":
        return LocalLake(project)
    return AzuriteLake(project, request.getfixturevalue("azurite"), "az")


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_run_killed_at_any_step_is_completed_by_the_next_run_exactly_once(
        project: Project, lake: Any, point: str, monkeypatch: pytest.MonkeyPatch) -> None:
    database = project.path / "data" / "demo.sqlite"
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", FILE_MAX_ITEMS)
    add_events(database, 1, FIRST_ROWS)
    project.write_workbook([JOB])
    assert project.ingest("run").exit_code == 0
    add_events(database, FIRST_ROWS + 1, NEW_ROWS)

    killed = run_killed_at(project, point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert len(project.audit_rows()) == 1  # the killed run had no chance to write its row
    assert_no_half_load_is_visible(lake)

    recovered = project.ingest("run")
    assert recovered.exit_code == 0, recovered.output
    row = project.audit_rows()[-1]
    assert row["status"] == "SUCCESS"
    if point == "extract":  # nothing was committed: the run extracts the new rows again
        assert row["rows_processed"] == str(NEW_ROWS) and not row["warnings"]
    else:  # the package the killed run committed is completed first and carries the new rows
        assert "left pending by an earlier run" in row["warnings"]
        assert row["rows_processed"] == "0"
    assert_exactly_once(project, lake)
    assert orphan_files(lake, "demo", "events") == []  # the resumed package rewrote the same file names
    assert_watermark_consistent(project)


def assert_no_half_load_is_visible(lake: Any) -> None:
    """After the kill, a reader following the rule sees exactly the first run's rows."""
    ids = lake_rows(read_completed(lake, "demo", "events"), "id")
    assert sorted(i for (i,) in ids) == list(range(1, FIRST_ROWS + 1))


@pytest.mark.slow
def test_orphan_files_of_a_killed_load_are_removed_when_the_working_folder_is_lost(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ephemeral compute: the package that could have been resumed is gone with the machine."""
    database = project.path / "data" / "demo.sqlite"
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", FILE_MAX_ITEMS)
    add_events(database, 1, FIRST_ROWS)
    project.write_workbook([JOB])
    assert project.ingest("run").exit_code == 0
    add_events(database, FIRST_ROWS + 1, NEW_ROWS)
    killed = run_killed_at(project, "load")
    assert killed.returncode == -signal.SIGKILL
    orphans = orphan_files(lake, "demo", "events")
    assert orphans  # the first uploaded file of the killed load

    shutil.rmtree(project.path / ".dlt" / "pipelines")
    recovered = project.ingest("run")
    assert recovered.exit_code == 0, recovered.output
    row = project.audit_rows()[-1]
    assert row["rows_processed"] == str(NEW_ROWS)
    assert f"removed {len(orphans)} file(s) of a load that never completed" in row["warnings"]
    assert orphan_files(lake, "demo", "events") == []
    assert_exactly_once(project, lake)
    assert_watermark_consistent(project)


@pytest.mark.slow
def test_run_killed_while_comparing_keys_leaves_no_tombstone_and_the_next_run_finds_the_deletes_once(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    database = project.path / "data" / "demo.sqlite"
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", FILE_MAX_ITEMS)
    add_events(database, 1, FIRST_ROWS)
    project.write_workbook([{**JOB, "detect_deletes": "Y"}])
    assert project.ingest("run").exit_code == 0
    add_events(database, FIRST_ROWS + 1, NEW_ROWS)
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM events WHERE id % 97 = 0 OR id IN (1, 4000)")
    connection.close()

    killed = run_killed_at(project, COMPARE)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert len(project.audit_rows()) == 1
    assert_no_half_load_is_visible(lake)  # neither the new rows nor a single tombstone

    recovered = project.ingest("run")
    assert recovered.exit_code == 0, recovered.output
    row = project.audit_rows()[-1]
    expected, _ = source_events(database)
    gone = set(range(1, FIRST_ROWS + NEW_ROWS + 1)) - {i for i, _ in expected}
    loaded_before = {i for i in gone if i <= FIRST_ROWS}
    assert (row["status"], row["rows_processed"]) == ("SUCCESS", str(NEW_ROWS - len(gone - loaded_before)))
    assert row["rows_deleted"] == str(len(loaded_before)) != "0"  # the same deletes, once
    assert live_key_values(lake, "demo", "events", "id") == {i for i, _ in expected}
    again = project.ingest("run")
    assert again.exit_code == 0 and project.audit_rows()[-1]["rows_deleted"] == "0"
