"""A FULL snapshot is the table as it is, also when it is empty: a FULL run of a table the source emptied
writes one Parquet file of no rows with the lake's schema, so the newest completed snapshot is empty and a
reader never sees the rows of the snapshot before it. Through every backend that reads a table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import Project
from lake_backends import LocalLake
from reading_rule import completed_load_ids, file_load_id

FULL = {"load_type": "FULL", "enabled": "Y"}


def latest_snapshot(project: Project, dataset: str, table: str) -> pa.Table:
    """The reading rule for a FULL table: the files of the greatest completed load id holding any."""
    lake = LocalLake(project)
    done = completed_load_ids(lake, dataset)
    files = [f for f in lake.files(dataset, table) if file_load_id(f) in done]
    assert files, f"no completed snapshot of {dataset}/{table}"
    newest = max(files, key=lambda f: float(file_load_id(f)))
    chosen = [f for f in files if file_load_id(f) == file_load_id(newest)]
    return pa.concat_tables([pq.read_table(lake.root / f) for f in chosen])


def _run(project: Project) -> dict[str, str]:
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    return project.audit_rows()[-1]


def _assert_emptied_table_lands_empty(project: Project, dataset: str, table: str,
                                      empty_the_table: Callable[[], None]) -> None:
    _run(project)
    first = latest_snapshot(project, dataset, table)
    assert first.num_rows > 0
    empty_the_table()
    row = _run(project)
    snapshot = latest_snapshot(project, dataset, table)
    assert snapshot.num_rows == 0
    assert snapshot.schema.remove_metadata() == first.schema.remove_metadata()  # the same columns and types
    assert (row["rows_processed"], row["source_count"], row["lake_count"]) == ("0", "0", "0")
    assert row["load_id"] and row["partition_path"]  # the empty snapshot is a load of its own
    _run(project)  # and stays empty
    assert latest_snapshot(project, dataset, table).num_rows == 0


def test_an_emptied_sqlite_table_lands_as_an_empty_snapshot(project: Project) -> None:
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": "customers", **FULL}])

    def empty() -> None:
        with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
            connection.execute("DELETE FROM customers")

    _assert_emptied_table_lands_empty(project, "demo", "customers", empty)


@pytest.fixture
def pg(postgres: Any) -> Iterator[Any]:
    from services.postgres import fresh_database

    with fresh_database(postgres, "emptied") as database:
        database.execute("CREATE TABLE items (id bigint PRIMARY KEY, price numeric(12,2), label char(4), "
                         "payload jsonb, seen timestamptz)",
                         "INSERT INTO items SELECT g, g * 1.5, 'ab', jsonb_build_object('n', g), "
                         "TIMESTAMPTZ '2024-01-01 00:00+00' + g * INTERVAL '1 hour' FROM generate_series(1, 50) g")
        yield database


@pytest.mark.parametrize("backend", ["auto", "pyarrow", "adbc", "duckdb"])
def test_an_emptied_postgres_table_lands_as_an_empty_snapshot_through_every_backend(
        project: Project, pg: Any, backend: str) -> None:
    if backend in ("adbc", "duckdb"):  # neither reads jsonb exactly: the table without it
        pg.execute("ALTER TABLE items DROP COLUMN payload")
    project.append_config(pg.secrets_toml("pg", backend=backend), "secrets.toml")
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": "items", **FULL}])
    _assert_emptied_table_lands_empty(project, "pg", "items", lambda: pg.execute("DELETE FROM items"))


def test_an_emptied_mariadb_table_lands_as_an_empty_snapshot(project: Project, mariadb: Any) -> None:
    from services.mariadb import fresh_database

    with fresh_database(mariadb, "emptied") as database:
        database.execute("CREATE TABLE items (id bigint PRIMARY KEY, price decimal(12,2), label varchar(10))",
                         "INSERT INTO items VALUES (1, 1.50, 'a'), (2, 3.00, 'b')")
        project.append_config(database.secrets_toml("my"), "secrets.toml")
        project.write_workbook([{"source_type": "mysql", "source_name": "my", "table_name": "items", **FULL}])
        _assert_emptied_table_lands_empty(project, "my", "items", lambda: database.execute("DELETE FROM items"))
