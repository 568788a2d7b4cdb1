"""PostgreSQL jobs end to end through `ingest run` against a real server, read back from the Parquet lake."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from conftest import Project
from services.postgres import PostgresDatabase, fresh_database

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

TYPED_DDL = """CREATE TABLE {table} (
    id integer PRIMARY KEY, amount numeric(38,10), happened_at timestamptz, local_at timestamp, day date,
    ref uuid, doc jsonb, blob bytea, label text)"""

TYPED_ROWS: list[tuple[Any, ...]] = [
    (1, Decimal("123456789012345678901234567.0123456789"), datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC),
     datetime(2024, 3, 1, 10, 0, 0, 654321), date(2024, 2, 29), uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
     {"a": [1, 2], "ü": None}, b"\x00\xde\xad\xbe\xef", "héllo ✓ 漢字 🚀"),
    (2, Decimal("-0.0000000001"), datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1970, 1, 1),
     date(1, 1, 1), uuid.UUID("00000000-0000-0000-0000-000000000000"), [], b"", ""),
    (3, None, None, None, None, None, None, None, None),
]

TYPED_TABLES = [("sales", "typed"), ("public", "MixedCase"), ("public", "with space")]

EXPECTED_TYPES = {
    "id": pa.int64(), "amount": pa.decimal128(38, 10), "happened_at": pa.timestamp("us", tz="UTC"),
    "local_at": pa.timestamp("us"), "day": pa.date32(), "ref": pa.string(), "doc": pa.string(),
    "blob": pa.binary(), "label": pa.string(),
}


def _quoted(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    """A fresh database per module, filled with the typed tables."""
    with fresh_database(postgres, "ingest") as database, database.connect() as connection, \
            connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA sales")
        for schema, table in TYPED_TABLES:
            cursor.execute(TYPED_DDL.format(table=_quoted(schema, table)))
            for row in TYPED_ROWS:
                cursor.execute(f"INSERT INTO {_quoted(schema, table)} VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                               [*row[:5], str(row[5]) if row[5] else None,
                                json.dumps(row[6]) if row[6] is not None else None, *row[7:]])
        connection.commit()
        yield database


def _secrets(pg: PostgresDatabase, source: str, **extra: str) -> str:
    return pg.secrets_toml(source, **extra)


def _job(source: str, schema: str, table: str, load_type: str = "FULL", **extra: str) -> dict[str, Any]:
    return {"source_type": "postgresql", "source_name": source, "schema_name": schema, "table_name": table,
            "load_type": load_type, "enabled": "Y", **extra}


@pytest.mark.parametrize(("schema", "table"), TYPED_TABLES)
def test_full_load_round_trips_every_type_exactly(project: Project, pg: Any, schema: str, table: str) -> None:
    project.append_config(_secrets(pg, "pg"), "secrets.toml")
    project.write_workbook([_job("pg", schema, table, primary_key="id")])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    lake_table = project.read_lake("pg", {"typed": "typed", "MixedCase": "mixed_case"}.get(table, "with_space"))
    for column, expected in EXPECTED_TYPES.items():
        assert lake_table.schema.field(column).type == expected, column
    rows = sorted(lake_table.select(list(EXPECTED_TYPES)).to_pylist(), key=lambda r: r["id"])
    assert len(rows) == len(TYPED_ROWS)
    for lake, source in zip(rows, TYPED_ROWS, strict=True):
        expected_row = dict(zip(EXPECTED_TYPES, source, strict=True))
        expected_row["ref"] = str(source[5]) if source[5] else None
        doc = lake["doc"]
        assert (json.loads(doc) if doc is not None else None) == source[6]
        lake["doc"] = expected_row["doc"] = None
        assert lake == expected_row
    assert pg.password not in project.all_output_text()


EVENTS_DDL = "CREATE TABLE {table} (id integer, version integer, note text, updated_at timestamptz)"


def _events(pg: Any, table: str, statements: list[str]) -> None:
    with pg.connect() as connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.format(table=table))


def _all_versions(pg: Any, table: str) -> list[tuple[int, int]]:
    with pg.connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT id, version FROM {table} WHERE updated_at IS NOT NULL")
        return sorted(cursor.fetchall())


@pytest.mark.parametrize("backend", ["pyarrow", "adbc", "duckdb"])  # connectorx reads no timestamp exactly
def test_three_incremental_runs_load_each_row_version_exactly_once(project: Project, pg: Any, backend: str) -> None:
    table = f"events_{backend}"
    at = [(T0 + timedelta(minutes=m)).isoformat() for m in range(4)]
    _events(pg, table, [EVENTS_DDL] + [
        f"INSERT INTO {{table}} VALUES ({i}, 1, 'n{i}', '{at[i % 2]}')" for i in range(1, 5)
    ] + ["INSERT INTO {table} VALUES (99, 1, 'no watermark', NULL)"])
    project.append_config(_secrets(pg, "ev", backend=backend), "secrets.toml")
    project.write_workbook([_job("ev", "public", table, "INCREMENTAL", watermark_column="updated_at",
                                 last_watermark="2024-01-01T00:00:00", primary_key="id,version")])

    def run() -> dict[str, str]:
        result = project.ingest("run")
        assert result.exit_code == 0, result.output
        return project.audit_rows()[-1]

    first = run()
    assert first["rows_processed"] == "4"
    assert "1 row(s) have a NULL updated_at" in first["warnings"]
    # rows sharing the boundary timestamp (at[1]) arrive after the first run, plus an update of row 1
    _events(pg, table, [f"INSERT INTO {{table}} VALUES (5, 1, 'same boundary', '{at[1]}')",
                        f"INSERT INTO {{table}} VALUES (6, 1, 'later', '{at[2]}')",
                        f"UPDATE {{table}} SET version = 2, updated_at = '{at[2]}' WHERE id = 1"])
    assert run()["rows_processed"] == "3"
    _events(pg, table, [f"UPDATE {{table}} SET version = 2, updated_at = '{at[3]}' WHERE id = 5",
                        f"INSERT INTO {{table}} VALUES (7, 1, 'same as last', '{at[2]}')"])
    assert run()["rows_processed"] == "2"
    lake = project.read_lake("ev", table)
    loaded = sorted(zip(lake["id"].to_pylist(), lake["version"].to_pylist(), strict=True))
    expected = sorted([(1, 1), (2, 1), (3, 1), (4, 1), (1, 2), (5, 1), (6, 1), (5, 2), (7, 1)])
    assert loaded == expected
    assert set(expected) >= set(_all_versions(pg, table))


def test_missing_table_fails_the_job_naming_table_and_schema(project: Project, pg: Any) -> None:
    project.append_config(_secrets(pg, "pg"), "secrets.toml")
    project.write_workbook([_job("pg", "sales", "nope")])
    result = project.ingest("run")
    assert result.exit_code == 1
    assert project.audit_rows()[-1]["error_message"] == (
        f"table 'nope' not found in schema 'sales' of {pg.host}/{pg.database_name}: check "
        "table_name and schema_name (names are case-sensitive when quoted).")


@pytest.mark.parametrize("backend", ["auto", "pyarrow", "adbc", "duckdb"])
def test_an_unpopulated_materialized_view_fails_naming_the_refresh(project: Project, pg: Any, backend: str) -> None:
    name = f"unpopulated_{backend}"
    pg.execute(f"CREATE MATERIALIZED VIEW sales.{name} AS SELECT id, label FROM sales.typed WITH NO DATA")
    project.append_config(_secrets(pg, "pg", backend=backend), "secrets.toml")
    project.write_workbook([_job("pg", "sales", name), _job("pg", "sales", "typed")])
    result = project.ingest("run")
    assert result.exit_code == 1
    failed, succeeded = project.audit_rows()[-2:]
    assert failed["status"] == "FAILED" and succeeded["status"] == "SUCCESS"
    assert "has not been populated" in failed["error_message"] and "\n" not in failed["error_message"]
    assert "run REFRESH MATERIALIZED VIEW on the server" in failed["error_message"]


def test_wrong_password_fails_with_one_line_naming_job_and_host(project: Project, pg: Any) -> None:
    wrong = pg.password + "x"
    text = _secrets(pg, "pg").replace(f'password = "{pg.password}"', f'password = "{wrong}"')
    project.append_config(text, "secrets.toml")
    project.write_workbook([_job("pg", "sales", "typed")])
    result = project.ingest("run")
    assert result.exit_code == 1
    error = project.audit_rows()[-1]["error_message"]
    assert error.startswith(f"cannot read from {pg.host}/{pg.database_name}: ")
    assert "password authentication failed" in error and "\n" not in error
    assert wrong not in result.output and wrong not in project.all_output_text()


@pytest.mark.parametrize(("value", "ok"), [("12345678901234567890.0123456789", True), ("1.012345678901", False)])
def test_unconstrained_numeric_is_exact_or_fails_loudly(project: Project, pg: Any, value: str, ok: bool) -> None:
    table = f"loose_{'ok' if ok else 'too_precise'}"
    _events(pg, table, ["CREATE TABLE {table} (id integer, amount numeric)",
                        f"INSERT INTO {{table}} VALUES (1, {value})"])
    project.append_config(_secrets(pg, "pg"), "secrets.toml")
    project.write_workbook([_job("pg", "public", table)])
    result = project.ingest("run")
    assert result.exit_code == (0 if ok else 1), result.output
    if ok:
        assert project.read_lake("pg", table)["amount"].to_pylist() == [Decimal(value)]
    else:
        error = project.audit_rows()[-1]["error_message"]
        assert error == ("column amount (numeric) holds a value that does not fit decimal(38,10) (Rescaling Decimal "
                         "value would cause data loss): give the column a column_types override (e.g. text) in the "
                         "workbook, or exclude it")


def test_incremental_run_with_nothing_new_after_a_shared_boundary_timestamp_writes_no_new_state(
        project: Project, pg: Any) -> None:
    """dlt keeps the boundary rows' hashes as `list(set)`, in an order that changes with each process's
    string-hash seed; unsorted, every run looked like a state change and uploaded a new state."""
    import os
    import subprocess
    import sys

    table = "shared_boundary"
    _events(pg, table, ["CREATE TABLE {table} (id int PRIMARY KEY, updated_at timestamptz)",
                        "INSERT INTO {table} SELECT g, timestamptz '2026-01-01 00:00:00+00' "
                        "FROM generate_series(1, 40) g"])  # 40 rows share the boundary value
    project.append_config(_secrets(pg, "pg"), "secrets.toml")
    project.write_workbook([_job("pg", "public", table, "INCREMENTAL", watermark_column="updated_at",
                                 last_watermark="2025-12-31", primary_key="id")])
    state_folder = project.path / "lake" / "pg" / "_dlt_pipeline_state"

    def run_in_new_process(seed: int) -> None:
        env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "PYTHONHASHSEED": str(seed)}
        done = subprocess.run([sys.executable, "-m", "dlt_ingest", "run"], cwd=project.path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    run_in_new_process(1)
    assert project.audit_rows()[-1]["rows_processed"] == "40"
    states = sorted(state_folder.iterdir())
    for seed in (2, 3):
        run_in_new_process(seed)
        assert project.audit_rows()[-1]["rows_processed"] == "0"
    assert sorted(state_folder.iterdir()) == states
