"""Row-count reconciliation: the source's COUNT for the job's window against the rows written to the lake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import dlt_ingest
from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from observers import ChangeSourceAtNormalize
from services.postgres import PostgresDatabase, fresh_database

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
EVENTS_DDL = "CREATE TABLE {table} (id integer PRIMARY KEY, note text, updated_at timestamptz)"


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    """A fresh database for this module."""
    with fresh_database(postgres, "reconcile") as database:
        yield database


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _events_table(pg: Any, table: str) -> None:
    """Rows before, at and after the workbook's start (T0), and one without a watermark."""
    pg.execute(EVENTS_DDL.format(table=table), f"CREATE INDEX ON {table} (updated_at)",
             f"INSERT INTO {table} VALUES (1, 'before the start', '{_at(-60)}'), (2, 'at the start', '{_at(0)}'),"
             f" (3, 'after', '{_at(5)}'), (4, 'after', '{_at(10)}'), (5, 'no watermark', NULL)")


def _pg_project(project: Project, pg: Any, table: str, load_type: str = "INCREMENTAL") -> None:
    project.append_config("\n".join([
        "[sources.pg]", f'host = "{pg.host}"', f"port = {pg.port}", f'database = "{pg.database_name}"',
        f'username = "{pg.user}"', f'password = "{pg.password}"']), "secrets.toml")
    extra = {"watermark_column": "updated_at", "last_watermark": T0.isoformat()} if load_type == "INCREMENTAL" else {}
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": table, "load_type": load_type, "primary_key": "id", "enabled": "Y",
                             **extra}])


def _run(project: Project, exit_code: int = 0) -> tuple[str, dict[str, str]]:
    result = project.ingest("run")
    assert result.exit_code == exit_code, result.output
    return result.output, project.audit_rows()[-1]


def test_demo_run_records_matching_counts_for_full_and_incremental_jobs(project: Project) -> None:
    project.write_workbook([
        {"source_type": "sqlite", "source_name": "demo", "table_name": "orders", "load_type": "INCREMENTAL",
         "watermark_column": "updated_at", "last_watermark": "2024-01-01T00:00:00", "primary_key": "id",
         "enabled": "Y"},
        {"source_type": "sqlite", "source_name": "demo", "table_name": "customers", "load_type": "FULL",
         "enabled": "Y"},
    ])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    audit = {row["job_name"]: row for row in project.audit_rows()}
    assert {name: (row["source_count"], row["lake_count"], row["reconciliation"]) for name, row in audit.items()} == {
        "demo.orders": ("3000", "3000", "MATCH"), "demo.customers": ("500", "500", "MATCH")}
    assert "Row count mismatches" not in result.output


def test_incremental_counts_match_on_the_first_run_and_on_later_windows(project: Project, pg: Any) -> None:
    _events_table(pg, "events_match")
    _pg_project(project, pg, "events_match")
    _, first = _run(project)  # rows 2, 3, 4: the start is inclusive on the first run, NULL never counts
    assert (first["rows_processed"], first["source_count"], first["lake_count"], first["reconciliation"]) == (
        "3", "3", "3", "MATCH")
    pg.execute(f"INSERT INTO events_match VALUES (6, 'new', '{_at(20)}'), (7, 'new', '{_at(30)}')")
    _, second = _run(project)  # window [10, 30]: the boundary row 4 is read again and not loaded twice
    assert (second["rows_processed"], second["source_count"], second["lake_count"], second["reconciliation"]) == (
        "2", "3", "2", "MATCH")
    _, third = _run(project)  # nothing new: only the boundary row is read again
    assert (third["rows_processed"], third["source_count"], third["lake_count"], third["reconciliation"]) == (
        "0", "1", "0", "MATCH")


def test_full_load_counts_the_whole_table(project: Project, pg: Any) -> None:
    _events_table(pg, "events_full")
    _pg_project(project, pg, "events_full", load_type="FULL")
    _, row = _run(project)
    assert (row["rows_processed"], row["source_count"], row["reconciliation"]) == ("5", "5", "MATCH")


def test_row_committed_late_with_the_boundary_timestamp_is_loaded_once_and_matches(project: Project, pg: Any) -> None:
    """A row sharing the timestamp the last run reached is loaded by this run, exactly once: a correct run."""
    table = f"late_{uuid.uuid4().hex[:6]}"
    _events_table(pg, table)
    _pg_project(project, pg, table)
    _run(project)
    pg.execute(f"INSERT INTO {table} VALUES (8, 'late', '{_at(10)}')")  # committed late, at the boundary
    output, row = _run(project)
    assert (row["status"], row["rows_processed"], row["source_count"], row["lake_count"], row["reconciliation"]) == (
        "SUCCESS", "1", "2", "1", "MATCH")
    assert "Row count mismatches" not in output
    loaded = project.read_lake("pg", table)["id"].to_pylist()
    assert sorted(loaded) == [2, 3, 4, 8]


@pytest.mark.parametrize(("settings", "status", "reconciliation"), [
    ("", "SUCCESS", "MISMATCH"),
    ('reconcile_action = "fail"', "FAILED", "MISMATCH"),
    ("reconcile_tolerance = 1", "SUCCESS", "MATCH"),
    ('reconcile_action = "off"', "SUCCESS", ""),
], ids=["warn", "fail", "within-tolerance", "off"])
def test_row_committed_inside_the_window_after_the_read_is_a_mismatch(
        project: Project, pg: Any, settings: str, status: str, reconciliation: str) -> None:
    table = f"late_{uuid.uuid4().hex[:6]}"
    _events_table(pg, table)
    _pg_project(project, pg, table)
    project.append_config(f"[ingest]\n{settings}")
    late = f"INSERT INTO {table} VALUES (9, 'late', '{_at(10)}')"
    report = dlt_ingest.run(dlt_ingest.RunOptions(), ChangeSourceAtNormalize(pg, f"pg.public.{table}", late))
    [result] = report.results
    assert (result.status.value, result.rows, result.reconciliation) == (status, 3, reconciliation)
    if reconciliation == "MISMATCH":
        assert (result.source_count, result.lake_count) == (4, 3)
    if status == "FAILED":
        assert result.error == ("row count mismatch: the source holds 4 row(s) for the window, the lake got 3 "
                                "(difference -1, tolerance 0)")
    assert report.exit_code == (1 if status == "FAILED" else 0)


def test_unknown_reconcile_action_stops_before_any_job(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    project.append_config('[ingest]\nreconcile_action = "panic"')
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: [ingest] reconcile_action = 'panic' in .dlt/config.toml is not one of "
                                     "warn, fail, off: fix it (warn is the default)")
    assert project.audit_rows() == []


def test_count_that_cannot_be_taken_is_a_warning_not_a_failure(project: Project) -> None:
    from dlt_ingest.engine.reconcile import ReconcilePolicy, reconcile
    from dlt_ingest.errors import SourceError
    from dlt_ingest.results import JobResult, JobStatus
    from dlt_ingest.workbook.model import Job, LoadType

    def gone(after: Any, until: Any) -> int:  # the source went away between the load and the count
        raise SourceError("sqlite file data/missing.sqlite not found: check `database` under [sources.<source_name>]")

    job = Job("sqlite", "gone", "orders", LoadType.FULL)
    result = JobResult(job, JobStatus.SUCCESS, datetime.now(), rows=3)
    reconcile(result, gone, ReconcilePolicy())
    assert (result.status, result.reconciliation, result.source_count) == (JobStatus.SUCCESS, "ERROR", None)
    assert result.warnings == ["row count check failed: sqlite file data/missing.sqlite not found: check `database` "
                               "under [sources.<source_name>]"]
