"""A lake folder never changes a column's type silently: schema changes are found from the catalog before
anything is read, reported with the job's full name, and a type change the folder cannot hold fails the job
unless the workbook row opts into evolution. Column control (include, exclude, type overrides) in the SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import Project
from services.postgres import PostgresDatabase, fresh_database


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    with fresh_database(postgres, "changes") as database:
        yield database


def _table(pg: Any, ddl: str, rows: str) -> str:
    name = f"t_{uuid.uuid4().hex[:8]}"
    pg.execute(f"CREATE TABLE {name} ({ddl})", f"INSERT INTO {name} VALUES {rows}")
    return name


def _project(project: Project, pg: Any, table: str, load_type: str = "FULL", **row: str) -> None:
    """The source's settings once, then the workbook row (written anew on every call)."""
    secrets = project.path / ".dlt" / "secrets.toml"
    if not secrets.exists() or "[sources.pg]" not in secrets.read_text():
        project.append_config("\n".join([
            "[sources.pg]", f'host = "{pg.host}"', f"port = {pg.port}", f'database = "{pg.database_name}"',
            f'username = "{pg.user}"', f'password = "{pg.password}"']), "secrets.toml")
    incremental = {"watermark_column": "id", "last_watermark": 0, "primary_key": "id"} if (
        load_type == "INCREMENTAL") else {}
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": table, "load_type": load_type, "enabled": "Y", **incremental, **row}])


def _run(project: Project, exit_code: int = 0) -> dict[str, str]:
    result = project.ingest("run")
    assert result.exit_code == exit_code, result.output
    return project.audit_rows()[-1]


def _schemas(project: Project, table: str) -> set[str]:
    return {str(pq.read_schema(f).remove_metadata()) for f in project.lake_files("pg", table)}


def test_an_added_column_is_reported_before_any_row_carries_it_and_only_once(project: Project, pg: Any) -> None:
    table = _table(pg, "id integer PRIMARY KEY, note text", "(1, 'a')")
    _project(project, pg, table, "INCREMENTAL")
    assert _run(project)["schema_changes"] == ""
    pg.execute(f"ALTER TABLE {table} ADD COLUMN carrier varchar(20)")
    row = _run(project)  # no new row: the catalog tells
    assert (row["rows_processed"], row["schema_changed"], row["schema_changes"]) == (
        "0", "true", "added carrier varchar(20)")
    logs = "".join(p.read_text() for p in (project.path / "logs").glob("main_orchestrator_*.log"))
    assert f"[SCHEMA CHANGE] pg.public.{table}: " in logs and "added carrier varchar(20)" in logs
    assert _run(project)["schema_changes"] == ""


def test_a_dropped_column_is_reported_once(project: Project, pg: Any) -> None:
    table = _table(pg, "id integer, note text, legacy integer", "(1, 'a', 7)")
    _project(project, pg, table)
    _run(project)
    pg.execute(f"ALTER TABLE {table} DROP COLUMN legacy")
    first = _run(project)
    assert (first["schema_changed"], first["schema_changes"]) == ("true", "dropped legacy integer")
    assert _run(project)["schema_changes"] == ""


def test_a_widened_integer_keeps_its_lake_type_and_is_reported(project: Project, pg: Any) -> None:
    table = _table(pg, "id integer, qty integer", "(1, 5)")
    _project(project, pg, table)
    _run(project)
    pg.execute(f"ALTER TABLE {table} ALTER COLUMN qty TYPE bigint", f"INSERT INTO {table} VALUES (2, 9000000000)")
    row = _run(project)
    assert row["schema_changes"] == "retyped qty integer -> bigint"
    assert len(_schemas(project, table)) == 1
    assert project.read_lake("pg", table).schema.field("qty").type == pa.int64()


@pytest.mark.parametrize(("ddl", "change", "column", "old", "new"), [
    ("id integer, price numeric(10,2)", "ALTER COLUMN price TYPE numeric(12,3)", "price", "numeric(10,2)",
     "numeric(12,3)"),
    ("id integer, at timestamptz", "ALTER COLUMN at TYPE timestamp", "at", "timestamp with time zone",
     "timestamp without time zone"),
    ("id integer, code integer", "ALTER COLUMN code TYPE text", "code", "integer", "text"),
])
def test_a_type_change_the_folder_cannot_hold_fails_unless_the_row_evolves(
        project: Project, pg: Any, ddl: str, change: str, column: str, old: str, new: str) -> None:
    table = _table(pg, ddl, "(1, NULL)")
    _project(project, pg, table)
    _run(project)
    pg.execute(f"ALTER TABLE {table} {change}")
    refused = _run(project, exit_code=1)
    assert refused["error_message"].startswith("the type of 1 column(s) changed in a way the lake's folder cannot "
                                               f"hold: {column} ({old} -> {new}: the folder holds ")
    assert "set schema_evolution to evolve in workbook row 2" in refused["error_message"]
    assert len(_schemas(project, table)) == 1  # nothing of the refused run landed

    _project(project, pg, table, schema_evolution="evolve")
    evolved = _run(project)
    assert evolved["schema_changes"] == f"retyped {column} {old} -> {new}"
    assert len(_schemas(project, table)) == 2  # the folder now holds both types, as the row allowed
    assert _run(project)["schema_changes"] == ""  # the new type is the folder's from now on


def test_switching_backends_keeps_one_arrow_type_per_column_in_the_folder(project: Project, pg: Any) -> None:
    table = _table(pg, "id integer PRIMARY KEY, qty smallint, price numeric(10,2), ratio real, label char(4), "
                       "doc jsonb", "(1, 2, 3.45, 0.1, 'ab', '{\"a\": 10}')")
    for backend in ("duckdb", "pyarrow", "adbc"):
        _project(project, pg, table, backend=backend)  # the row's backend
        _run(project)
    assert len(_schemas(project, table)) == 1
    lake = project.read_lake("pg", table)
    assert lake.to_pylist() == [{"id": 1, "qty": 2, "price": Decimal("3.45"), "ratio": pytest.approx(0.1, rel=1e-7),
                                 "label": "ab  ", "doc": '{"a": 10}'}] * 3


def test_excluded_and_not_included_columns_are_never_read(project: Project, pg: Any) -> None:
    """The reader may not even select them: a role without privileges on those columns still loads the job."""
    table = _table(pg, "id integer, visible text, secret text, other text", "(1, 'v', 's', 'o')")
    role = f"reader_{uuid.uuid4().hex[:6]}"
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'", f"GRANT SELECT (id, visible) ON {table} TO {role}")
    project.append_config("\n".join([
        "[sources.pg]", f'host = "{pg.host}"', f"port = {pg.port}", f'database = "{pg.database_name}"',
        f'username = "{role}"', 'password = "reader-pw"', 'backend = "adbc"']), "secrets.toml")
    project.write_workbook([
        {"source_type": "postgresql", "source_name": "pg", "schema_name": "public", "table_name": table,
         "load_type": "FULL", "enabled": "Y", "exclude_columns": "secret, other"}])
    assert _run(project)["status"] == "SUCCESS"
    assert project.read_lake("pg", table).to_pylist() == [{"id": 1, "visible": "v"}]
    project.write_workbook([
        {"source_type": "postgresql", "source_name": "pg", "schema_name": "public", "table_name": table,
         "load_type": "FULL", "enabled": "Y", "include_columns": "id, visible"}])
    assert _run(project)["schema_changes"] == ""


def test_column_types_overrides_land_what_the_analyst_asks_and_refuse_what_does_not_fit(
        project: Project, pg: Any) -> None:
    table = _table(pg, "id integer, amount numeric, tiny numeric, local_at timestamp",
                   "(1, 1234567890123456789012345678901234567890, 0.000000000000000000000000000001, "
                   "'2024-05-01 10:00:00')")
    _project(project, pg, table, column_types="amount: text; tiny: decimal(38,30); local_at: timestamptz")
    assert _run(project)["status"] == "SUCCESS"
    lake = project.read_lake("pg", table)
    assert lake.schema.field("amount").type == pa.string()
    assert lake.schema.field("tiny").type == pa.decimal128(38, 30)
    assert lake.schema.field("local_at").type == pa.timestamp("us", tz="UTC")
    row = lake.to_pylist()[0]
    assert row["amount"] == "1234567890123456789012345678901234567890"
    assert row["tiny"] == Decimal("1E-30") and row["local_at"].isoformat() == "2024-05-01T10:00:00+00:00"
    _project(project, pg, table)  # the override taken away: the folder's types stay, the job says why
    assert "its lake type set anew in the workbook: the folder holds string" in _run(project, 1)["error_message"]

    other = _table(pg, "id integer, amount numeric", "(1, 1234567890123456789012345678901234567890)")
    _project(project, pg, other, column_types="amount: decimal(38,0)")  # 40 digits do not fit 38
    refused = _run(project, exit_code=1)
    assert refused["error_message"].startswith("column amount (numeric) holds a value that does not fit "
                                               "decimal(38,0)")


@pytest.mark.parametrize(("cell", "message"), [
    ("amount: money", "SourceConfig!{letter}2 column_types: 'money' for amount is not a lake type: use text, "
                      "int64, decimal(p,s) or timestamptz"),
    ("amount decimal(10,2)", "SourceConfig!{letter}2 column_types: 'amount decimal(10,2)' is not `column: type`: "
                             "write pairs such as amount: decimal(38,18); payload: text"),
])
def test_a_wrong_column_types_cell_is_a_located_validation_error(project: Project, cell: str, message: str) -> None:
    from dlt_ingest.workbook.columns import COLUMNS

    letter = chr(ord("A") + [c.name for c in COLUMNS].index("column_types"))
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": "orders",
                             "load_type": "FULL", "enabled": "Y", "column_types": cell}])
    result = project.ingest("validate-config")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message.format(letter=letter)
