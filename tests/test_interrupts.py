"""Ctrl-C and SIGTERM against a real `ingest run` process: a clean stop, a consistent audit, no lost rows."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Project

BIG_ROWS = 400_000


def _add_big_table(database: Path) -> None:
    with sqlite3.connect(database) as connection:
        connection.executescript(f"""
            CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT, updated_at TIMESTAMP);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BIG_ROWS})
            INSERT INTO big SELECT i, printf('row-%08d-%s', i, hex(randomblob(16))),
                datetime('2024-01-01', '+' || i || ' seconds') FROM n;
        """)


def _start_run(project: Project, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    return subprocess.Popen([sys.executable, "-m", "dlt_ingest", "run", *args], cwd=project.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for_log(project: Project, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for log in (project.path / "logs").glob("main_orchestrator_*.log"):
            if text in log.read_text(encoding="utf-8", errors="replace"):
                return
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        time.sleep(0.05)
    raise AssertionError(f"log never showed {text!r}")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_stops_cleanly_and_next_run_loads_every_row_once(project: Project, signum: int) -> None:
    _add_big_table(project.path / "data" / "demo.sqlite")
    project.write_workbook([
        {"source_type": "sqlite", "source_name": "demo", "table_name": "big", "load_type": "INCREMENTAL",
         "watermark_column": "updated_at", "primary_key": "id", "chunk_size": 2000, "enabled": "Y"},
        {"source_type": "sqlite", "source_name": "demo", "table_name": "customers", "load_type": "FULL",
         "enabled": "Y"},
    ])
    process = _start_run(project)
    _wait_for_log(project, "Starting job: demo.big", process)
    time.sleep(0.5)  # let the extraction get going
    process.send_signal(signum)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 1, output
    assert "Traceback" not in output
    statuses = {r["job_name"]: r["status"] for r in project.audit_rows()}
    assert statuses["demo.customers"] == "SKIPPED"
    assert statuses["demo.big"] == "INTERRUPTED", output

    again = project.ingest("run")
    assert again.exit_code == 0, again.output
    big = project.read_lake("demo", "big")
    ids = big["id"].to_pylist()
    assert len(ids) == BIG_ROWS
    assert len(set(ids)) == BIG_ROWS
