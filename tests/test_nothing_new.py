"""INCREMENTAL jobs with nothing new are finished without a dlt pipeline, exactly when dlt's incremental would
read nothing: a row at the stored cursor dlt has not loaded (a new key, or a key deleted and inserted again),
a row after it, a pending package, a state whose load never completed all run the pipeline; the audit row,
the logs and the warnings are the pipeline's; nothing is written to the lake or the working folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pytest

from conftest import Project
from dlt_ingest import load_jobs
from dlt_ingest.destinations.filesystem.lake import lake_target
from dlt_ingest.engine.unchanged import UnchangedJobs
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.sources import REGISTRY

TABLES = ("alpha", "beta", "gamma")
ROWS = 5  # ids 1..5, the cursor one minute apart: the boundary row is id 5 at 00:05
BOUNDARY = "2024-01-01 00:05:00"
CHECKED = "checked without a pipeline"


@dataclass
class Source:
    """A database the test tables live in, and how the workbook names it."""

    source_type: str
    database: Any
    timestamp: str  # the SQL type of the cursor column

    def execute(self, *statements: str) -> None:
        self.database.execute(*statements)

    def ids(self, table: str) -> list[int]:
        if self.source_type == "postgresql":
            with self.database.connect() as connection, connection.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {table} ORDER BY id")
                return [row[0] for row in cursor.fetchall()]
        return [row[0] for row in self.database.query(f"SELECT id FROM {table} ORDER BY id")]


def _create(source: Source) -> None:
    statements = []
    for table in TABLES:
        statements += [f"CREATE TABLE {table} (id integer PRIMARY KEY, amount numeric(10,2), "
                       f"updated_at {source.timestamp} NULL)",
                       *[f"INSERT INTO {table} VALUES ({i}, {i}.25, '2024-01-01 00:0{i}:00')"
                         for i in range(1, ROWS + 1)]]
    source.execute(*statements)


@pytest.fixture
def pg_source(postgres: Any) -> Iterator[Source]:
    from services.postgres import fresh_database

    with fresh_database(postgres, "unchanged") as database:
        source = Source("postgresql", database, "timestamp")
        _create(source)
        yield source


@pytest.fixture
def maria_source(mariadb: Any) -> Iterator[Source]:
    from services.mariadb import fresh_database

    with fresh_database(mariadb, "unchanged") as database:
        source = Source("mysql", database, "DATETIME(6)")
        _create(source)
        yield source


@pytest.fixture(params=["postgresql", "mariadb"])
def source(request: pytest.FixtureRequest) -> Source:
    return request.getfixturevalue("pg_source" if request.param == "postgresql" else "maria_source")


def _workbook(project: Project, source: Source) -> None:
    project.append_config(source.database.secrets_toml("db"), "secrets.toml")
    schema = {"schema_name": "public"} if source.source_type == "postgresql" else {}
    project.write_workbook([{"source_type": source.source_type, "source_name": "db", "table_name": table, **schema,
                             "load_type": "INCREMENTAL", "watermark_column": "updated_at", "primary_key": "id",
                             "last_watermark": "2020-01-01", "enabled": "Y"} for table in TABLES])


def _run(project: Project) -> list[dict[str, str]]:
    """One run; its audit rows by table."""
    before = len(project.audit_rows())
    result = project.ingest("run")
    assert result.exit_code in (0, 1), result.output
    return project.audit_rows()[before:]


def _by_table(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["job_name"].rsplit(".", 1)[-1]: row for row in rows}


def _files(root: Path) -> dict[str, int]:
    """Every file of the lake and the working folder (its locks aside) with its modification time."""
    found = {}
    for folder in ("lake", ".dlt/pipelines"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and "locks" not in path.parts:
                found[str(path.relative_to(root))] = path.stat().st_mtime_ns
    return found


def _log(project: Project) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((project.path / "logs").glob("main_*.log")))


def _lake_ids(project: Project, table: str) -> list[int]:
    return sorted(project.read_lake("db", table)["id"].to_pylist())


def test_a_run_with_nothing_new_builds_no_pipeline_and_writes_nothing(project: Project, source: Source) -> None:
    _workbook(project, source)
    first = _by_table(_run(project))
    assert {row["rows_processed"] for row in first.values()} == {str(ROWS)}
    before = _files(project.path)

    second = _by_table(_run(project))
    assert _files(project.path) == before  # no trace, no state, no schema, no package, no lake file
    for table, row in second.items():
        assert row["status"] == "SUCCESS" and row["rows_processed"] == "0" and row["load_id"] == ""
        assert row["watermark_start"] == row["watermark_end"] == first[table]["watermark_end"] == BOUNDARY
        assert (row["source_count"], row["lake_count"], row["reconciliation"]) == ("1", "0", "MATCH")
        assert row["schema_version"] == first[table]["schema_version"] and row["warnings"] == ""
    log = _log(project)
    for table in TABLES:
        assert f"{table}: nothing new after updated_at {BOUNDARY}: {CHECKED}" in log


def test_the_audit_row_without_a_pipeline_is_the_one_the_pipeline_writes(
        project: Project, pg_source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    _workbook(project, pg_source)
    _run(project)
    pg_source.execute("INSERT INTO beta VALUES (100, 1.5, NULL)")  # a NULL cursor: warned about either way
    checked = _run(project)
    with monkeypatch.context() as patched:
        patched.setattr(UnchangedJobs, "take", lambda self, job: None)  # every job through its pipeline
        piped = _run(project)
    timing = {"timestamp", "duration_seconds", "run_id", "started_at"}
    assert [{k: v for k, v in row.items() if k not in timing} for row in checked] == [
        {k: v for k, v in row.items() if k not in timing} for row in piped]
    assert "1 row(s) have a NULL updated_at and can never be picked up" in _by_table(checked)["beta"]["warnings"]
    assert _log(project).count(f"beta: nothing new after updated_at {BOUNDARY}: {CHECKED}") == 1


def test_a_row_inserted_at_the_stored_cursor_is_loaded(project: Project, source: Source) -> None:
    _workbook(project, source)
    _run(project)
    source.execute(f"INSERT INTO beta VALUES (50, 1.0, '{BOUNDARY}')")  # same cursor value, a key dlt never saw
    rows = _by_table(_run(project))
    assert rows["beta"]["rows_processed"] == "1"
    assert [rows[t]["rows_processed"] for t in ("alpha", "gamma")] == ["0", "0"]
    assert _lake_ids(project, "beta") == source.ids("beta")
    assert _by_table(_run(project))["beta"]["rows_processed"] == "0"  # now stored: nothing new again
    assert _log(project).count(f"beta: nothing new after updated_at {BOUNDARY}: {CHECKED}") == 1


def test_a_row_deleted_and_another_inserted_at_the_cursor_is_loaded(project: Project, source: Source) -> None:
    """The rows at the boundary count the same; only their keys tell that one is new."""
    _workbook(project, source)
    _run(project)
    source.execute("DELETE FROM gamma WHERE id = 5", f"INSERT INTO gamma VALUES (6, 6.25, '{BOUNDARY}')")
    rows = _by_table(_run(project))
    assert rows["gamma"]["rows_processed"] == "1"
    assert _lake_ids(project, "gamma") == [1, 2, 3, 4, 5, 6]  # the append-only history keeps the deleted one


def test_a_row_after_the_cursor_is_loaded_and_moves_it(project: Project, source: Source) -> None:
    _workbook(project, source)
    _run(project)
    source.execute("INSERT INTO alpha VALUES (7, 7.25, '2024-01-01 00:07:00')")
    rows = _by_table(_run(project))
    assert rows["alpha"]["rows_processed"] == "1" and rows["alpha"]["watermark_end"] == "2024-01-01 00:07:00"
    assert _lake_ids(project, "alpha") == source.ids("alpha")
    assert _by_table(_run(project))["alpha"]["watermark_start"] == "2024-01-01 00:07:00"


def test_rows_with_a_null_cursor_are_warned_about_without_a_pipeline(project: Project, source: Source) -> None:
    _workbook(project, source)
    _run(project)
    source.execute("INSERT INTO alpha VALUES (90, 1.0, NULL)", "INSERT INTO alpha VALUES (91, 1.0, NULL)")
    row = _by_table(_run(project))["alpha"]
    assert row["rows_processed"] == "0" and row["status"] == "SUCCESS"
    assert "2 row(s) have a NULL updated_at and can never be picked up by the watermark" in row["warnings"]
    log = _log(project)
    assert "alpha: 2 row(s) have a NULL updated_at" in log and "alpha: nothing new after updated_at" in log


def test_a_wiped_working_folder_resumes_from_the_lakes_state_without_a_pipeline(project: Project,
                                                                               pg_source: Source) -> None:
    _workbook(project, pg_source)
    first = _by_table(_run(project))
    shutil.rmtree(project.path / ".dlt" / "pipelines")  # an ephemeral cluster
    lake_before = {k: v for k, v in _files(project.path).items() if k.startswith("lake")}

    rows = _by_table(_run(project))
    assert [p.name for p in (project.path / ".dlt" / "pipelines").iterdir()] == ["locks"]  # no pipeline made
    assert {k: v for k, v in _files(project.path).items() if k.startswith("lake")} == lake_before
    for table, row in rows.items():
        assert row["rows_processed"] == "0" and row["watermark_start"] == BOUNDARY
        assert row["schema_version"] == first[table]["schema_version"]  # the lake's newest schema
    pg_source.execute("INSERT INTO beta VALUES (6, 6.25, '2024-01-01 00:06:00')")
    assert _by_table(_run(project))["beta"]["rows_processed"] == "1"
    assert _lake_ids(project, "beta") == [1, 2, 3, 4, 5, 6]


def test_the_state_of_a_load_that_never_completed_is_not_used(project: Project, pg_source: Source) -> None:
    """Its newer cursor would say 'nothing new': the job runs its pipeline, which restores the completed state
    and loads those rows again."""
    _workbook(project, pg_source)
    _run(project)
    pg_source.execute("INSERT INTO alpha VALUES (6, 6.25, '2024-01-01 00:06:00')")
    assert _by_table(_run(project))["alpha"]["rows_processed"] == "1"
    loads = project.path / "lake" / "db" / "_dlt_loads"
    newest = max(loads.glob("ingest_db_public_alpha__*.jsonl"), key=lambda p: p.name)
    newest.unlink()  # the second load's file and state are in the lake, its completion record is not
    shutil.rmtree(project.path / ".dlt" / "pipelines")

    rows = _by_table(_run(project))
    assert rows["alpha"]["rows_processed"] == "1"
    assert "ignored 1 stored state(s) of a load that never completed" in rows["alpha"]["warnings"]
    assert _lake_ids(project, "alpha") == [1, 2, 3, 4, 5, 6]  # the dead load's file gone, the row loaded once
    assert [rows[t]["rows_processed"] for t in ("beta", "gamma")] == ["0", "0"]


def _leave_pending_package(project: Project, table: str) -> None:
    """Extract and normalize one job exactly as `ingest run` would, then stop before loading."""
    [job] = [j for j in load_jobs(project.workbook).jobs if j.table_name == table]
    module = REGISTRY.get(job.source_type)
    credentials = resolve_source_credentials(module.credentials_spec, job.source_name)
    pipeline = dlt.pipeline(pipeline_name=job.pipeline_name, destination=lake_target().destination(),
                            dataset_name=job.dataset_name, pipelines_dir=str(Path(".dlt/pipelines").resolve()))
    session = module.open_session(credentials.config, [job])
    try:
        with module.prepare(job, session) as prepared:
            pipeline.extract(prepared.data, loader_file_format="parquet", write_disposition="append")
    finally:
        session.close()
    pipeline.normalize()


def test_a_package_left_pending_is_completed_by_the_pipeline(project: Project, pg_source: Source) -> None:
    _workbook(project, pg_source)
    _run(project)
    pg_source.execute("INSERT INTO beta VALUES (6, 6.25, '2024-01-01 00:06:00')")
    _leave_pending_package(project, "beta")
    rows = _by_table(_run(project))
    assert "left pending by an earlier run" in rows["beta"]["warnings"]
    assert _lake_ids(project, "beta") == [1, 2, 3, 4, 5, 6]
    log = _log(project)
    assert "beta: nothing new after" not in log and f"alpha: nothing new after updated_at {BOUNDARY}" in log


def test_one_table_the_check_cannot_read_fails_only_its_own_job(project: Project, pg_source: Source) -> None:
    """The statement for the whole source fails on it: halving finds it, the others are still checked."""
    _workbook(project, pg_source)
    _run(project)
    pg_source.execute("ALTER TABLE beta RENAME TO beta_rows",
                      "CREATE VIEW beta AS SELECT id, amount, updated_at FROM beta_rows WHERE 1 / (id - id) = 0")
    rows = _by_table(_run(project))
    assert rows["beta"]["status"] == "FAILED" and "division by zero" in rows["beta"]["error_message"]
    assert [(rows[t]["status"], rows[t]["rows_processed"]) for t in ("alpha", "gamma")] == [("SUCCESS", "0")] * 2
    log = _log(project)
    assert f"alpha: nothing new after updated_at {BOUNDARY}: {CHECKED}" in log
    assert f"gamma: nothing new after updated_at {BOUNDARY}: {CHECKED}" in log


def test_a_job_that_detects_deletes_runs_its_pipeline_with_nothing_new(project: Project, pg_source: Source) -> None:
    """Nothing after the cursor says nothing about deleted keys: the comparison runs every time."""
    _workbook(project, pg_source)
    project.write_workbook([{"source_type": "postgresql", "source_name": "db", "table_name": table,
                             "schema_name": "public", "load_type": "INCREMENTAL", "watermark_column": "updated_at",
                             "primary_key": "id", "last_watermark": "2020-01-01", "enabled": "Y",
                             "detect_deletes": "Y" if table == "alpha" else "N"} for table in TABLES])
    _run(project)
    pg_source.execute("DELETE FROM alpha WHERE id = 2")
    rows = _by_table(_run(project))
    assert (rows["alpha"]["rows_processed"], rows["alpha"]["rows_deleted"]) == ("0", "1")
    log = _log(project)
    assert f"alpha: nothing new after updated_at {BOUNDARY}: {CHECKED}" not in log
    assert f"beta: nothing new after updated_at {BOUNDARY}: {CHECKED}" in log
