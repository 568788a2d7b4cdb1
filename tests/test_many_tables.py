"""A workbook of many tables of one source: the jobs share the source's logins and its catalog read, yet
each keeps its own state, audit row, failure and exact results, through a failing table, a killed run and
a wiped working folder; INCREMENTAL jobs with nothing new finish without a pipeline through all of them."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import dlt
import pytest
import sqlalchemy as sa

from conftest import Project
from dlt_ingest.sources.sql.postgresql import PostgresCredentials, PostgresSource
from services.postgres import PostgresDatabase, fresh_database
from test_interrupts import _wait_for_log

TABLES = 24
ROWS = 10


def _name(i: int) -> str:
    return f"small_{i:02d}"


@pytest.fixture
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    with fresh_database(postgres, "many") as database:
        statements = []
        for i in range(TABLES):
            statements += [f"CREATE TABLE {_name(i)} (id integer PRIMARY KEY, amount numeric(10,2), "
                           f"updated_at timestamp NOT NULL)",
                           f"INSERT INTO {_name(i)} SELECT g, g * 1.25, "
                           f"TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute' FROM generate_series(1, {ROWS}) g"]
        database.execute(*statements)
        yield database


def _project(project: Project, pg: PostgresDatabase, load_type: str = "INCREMENTAL") -> None:
    project.append_config(pg.secrets_toml("pg"), "secrets.toml")
    incremental = {"watermark_column": "updated_at", "primary_key": "id", "last_watermark": "2020-01-01"} if (
        load_type == "INCREMENTAL") else {}
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": _name(i), "load_type": load_type, "enabled": "Y", **incremental}
                            for i in range(TABLES)])


def _add_rows(pg: PostgresDatabase, first: int, last: int) -> None:
    pg.execute(*[f"INSERT INTO {_name(i)} SELECT g, g * 1.25, TIMESTAMP '2025-01-01' + g * INTERVAL '1 minute' "
                 f"FROM generate_series({first}, {last}) g" for i in range(TABLES)])


def _assert_lake_equals_source(project: Project, pg: PostgresDatabase, skip: frozenset[int] = frozenset()) -> None:
    with pg.connect() as connection, connection.cursor() as cursor:
        for i in range(TABLES):
            if i in skip:
                continue
            cursor.execute(f"SELECT id, amount FROM {_name(i)} ORDER BY id")
            expected = cursor.fetchall()
            lake = project.read_lake("pg", _name(i))
            landed = sorted(zip(lake["id"].to_pylist(), lake["amount"].to_pylist(), strict=True))
            assert landed == expected, _name(i)  # every row exactly once


def _sessions(pg: PostgresDatabase) -> int:
    """Sessions PostgreSQL counted for the database so far (each login, once it has ended)."""
    with pg.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_the_jobs_of_one_source_share_its_logins(project: Project, pg: PostgresDatabase) -> None:
    _project(project, pg, "FULL")
    before = _sessions(pg)
    result = project.ingest("run", "--workers", "2")
    assert result.exit_code == 0, result.output
    time.sleep(0.5)  # a session is counted when it ends
    logins = _sessions(pg) - before - 1  # less the one that counted before
    assert logins <= 4, f"{logins} logins for {TABLES} jobs"  # the pool's connections, not one per job
    assert [r["status"] for r in project.audit_rows()] == ["SUCCESS"] * TABLES
    _assert_lake_equals_source(project, pg)


def test_a_finished_job_keeps_nothing_of_its_own_alive(project: Project, pg: PostgresDatabase) -> None:
    """What a run keeps must not grow with its jobs: every full garbage collection walks it again, so a few
    hundred KB kept per job made a run of 300 tables a fifth slower (a pipeline kept by a stored traceback)."""
    _project(project, pg, "FULL")
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    gc.collect()
    here = str(project.path)
    pipelines = [o for o in gc.get_objects() if isinstance(o, dlt.Pipeline) and str(o.pipelines_dir).startswith(here)]
    assert len(pipelines) <= 1, f"{len(pipelines)} pipelines of {TABLES} jobs alive after the run"  # dlt's current


def test_one_failing_table_among_many_fails_only_its_own_job(project: Project, pg: PostgresDatabase) -> None:
    pg.execute(f"INSERT INTO {_name(7)} VALUES (99, 'NaN', '2024-06-01')")  # no decimal column holds NaN
    _project(project, pg)
    result = project.ingest("run", "--workers", "2")
    assert result.exit_code == 1
    statuses = {r["job_name"]: r["status"] for r in project.audit_rows()}
    assert statuses.pop(f"pg.public.{_name(7)}") == "FAILED"
    assert set(statuses.values()) == {"SUCCESS"} and len(statuses) == TABLES - 1
    assert not project.lake_files("pg", _name(7))
    _assert_lake_equals_source(project, pg, skip=frozenset({7}))
    pg.execute(f"DELETE FROM {_name(7)} WHERE id = 99")
    assert project.ingest("run").exit_code == 0  # the failed job starts from where it was: nothing lost
    _assert_lake_equals_source(project, pg)


def test_a_wiped_working_folder_restores_every_jobs_state_from_the_lake(project: Project,
                                                                        pg: PostgresDatabase) -> None:
    _project(project, pg)
    assert project.ingest("run", "--workers", "2").exit_code == 0
    shutil.rmtree(project.path / ".dlt" / "pipelines")  # an ephemeral cluster
    assert project.ingest("run", "--workers", "2").exit_code == 0  # nothing new: every state read from the lake
    assert [r["rows_processed"] for r in project.audit_rows()[TABLES:]] == ["0"] * TABLES
    assert [p.name for p in (project.path / ".dlt" / "pipelines").iterdir()] == ["locks"]  # and no pipeline built
    shutil.rmtree(project.path / ".dlt" / "pipelines")
    _add_rows(pg, ROWS + 1, ROWS + 3)
    assert project.ingest("run", "--workers", "2").exit_code == 0
    second = project.audit_rows()[2 * TABLES:]
    assert [r["rows_processed"] for r in second] == ["3"] * TABLES
    _assert_lake_equals_source(project, pg)


@pytest.mark.slow
def test_a_run_killed_midway_leaves_each_job_whole_and_the_next_run_loads_the_rest_once(
        project: Project, pg: PostgresDatabase) -> None:
    _project(project, pg)
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    process = subprocess.Popen([sys.executable, "-m", "dlt_ingest", "run"], cwd=project.path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _wait_for_log(project, f"Starting job: pg.public.{_name(TABLES // 2)}", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    finished = {r["job_name"] for r in project.audit_rows() if r["status"] == "SUCCESS"}
    assert 0 < len(finished) < TABLES
    assert project.ingest("run").exit_code == 0
    _assert_lake_equals_source(project, pg)
    before = _checked_without_a_pipeline(project)
    assert project.ingest("run").exit_code == 0  # nothing new anywhere: no pipeline, nothing changes
    assert _checked_without_a_pipeline(project) - before == TABLES
    _assert_lake_equals_source(project, pg)


def _checked_without_a_pipeline(project: Project) -> int:
    """Jobs finished without a pipeline so far (runs within one second share a log file)."""
    return sum(log.read_text(encoding="utf-8").count("checked without a pipeline")
               for log in (project.path / "logs").glob("main_*.log"))


def test_one_failing_table_among_many_with_nothing_new_fails_only_its_own_job(project: Project,
                                                                               pg: PostgresDatabase) -> None:
    _project(project, pg)
    assert project.ingest("run", "--workers", "2").exit_code == 0
    pg.execute(f"INSERT INTO {_name(7)} VALUES (99, 'NaN', '2025-06-01')")  # new, and no decimal column holds NaN
    result = project.ingest("run", "--workers", "2")
    assert result.exit_code == 1
    second = {r["job_name"]: r for r in project.audit_rows()[TABLES:]}
    assert second.pop(f"pg.public.{_name(7)}")["status"] == "FAILED"
    assert {(r["status"], r["rows_processed"]) for r in second.values()} == {("SUCCESS", "0")}
    assert _checked_without_a_pipeline(project) == TABLES - 1
    pg.execute(f"DELETE FROM {_name(7)} WHERE id = 99")
    assert project.ingest("run").exit_code == 0  # the failed job's state did not move: it has nothing new either
    assert _checked_without_a_pipeline(project) == 2 * TABLES - 1
    _assert_lake_equals_source(project, pg)


def test_each_job_gets_its_own_copy_of_the_shared_catalog(pg: PostgresDatabase) -> None:
    """A job adapts its table's column types for the read; a retry (or another job of the same table)
    must start from the catalog's types again."""
    credentials = PostgresCredentials()
    credentials.host, credentials.port, credentials.database = pg.host, pg.port, pg.database_name
    credentials.username, credentials.password = pg.user, pg.password
    jobs = [type("J", (), {"schema_name": "public", "table_name": _name(i)})() for i in range(3)]
    session = PostgresSource().open_session(credentials, jobs)  # type: ignore[arg-type]
    try:
        first = session.reflected_table(jobs[0])  # type: ignore[arg-type]
        assert first is not None
        first.c.amount.type = sa.Text()
        again = session.reflected_table(jobs[0])  # type: ignore[arg-type]
        assert again is not None and again is not first
        assert isinstance(again.c.amount.type, sa.Numeric) and again.c.amount.type.scale == 2
        assert session.table_bytes(jobs[1]) is not None  # type: ignore[arg-type]
    finally:
        session.close()
