"""`validate-config --check-sources` checks each enabled row against its source's catalog before a run:
a row asking for what its table refuses is located at its cell (exit 2), the same refusal a run would give
at job start; a source that cannot be reached is named (exit 1); no row of any table is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl.utils import get_column_letter

import dlt_ingest
from conftest import Project
from dlt_ingest.engine.connections import check_against_sources
from dlt_ingest.workbook.columns import COLUMNS
from services.postgres import PostgresDatabase, fresh_database


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    with fresh_database(postgres, "checks") as database:
        database.execute("CREATE TABLE things (id integer PRIMARY KEY, updated_at timestamp, doc jsonb, "
                         "amount numeric(10, 2), span interval)",
                         "INSERT INTO things VALUES (1, '2024-01-01', '{}', 1.5, '1 day')")
        yield database


def _project(project: Project, pg: PostgresDatabase, **row: Any) -> None:
    project.append_config("\n".join([
        "[sources.pg]", f'host = "{pg.host}"', f"port = {pg.port}", f'database = "{pg.database_name}"',
        f'username = "{pg.user}"', f'password = "{pg.password}"']), "secrets.toml")
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": "things", "load_type": "FULL", "enabled": "Y", **row}])


def _letter(column: str) -> str:
    return get_column_letter([c.name for c in COLUMNS].index(column) + 1)


@pytest.mark.parametrize(("row", "column", "fix"), [
    ({"table_name": "thingz"}, "table_name", "table 'thingz' not found in schema 'public'"),
    ({"include_columns": "id, nope"}, "include_columns", "include_columns names nope, which table 'things'"),
    ({"exclude_columns": "gone"}, "exclude_columns", "exclude_columns names gone"),
    ({"column_types": "amout: text"}, "column_types", "column_types names amout"),
    ({"load_type": "INCREMENTAL", "watermark_column": "changed_at", "primary_key": "id",
      "last_watermark": "2024-01-01"}, "watermark_column", "watermark_column 'changed_at' is not a column"),
    ({"load_type": "INCREMENTAL", "watermark_column": "doc", "primary_key": "id", "last_watermark": 1},
     "watermark_column", "doc (jsonb) is read as text and cannot order rows"),
    ({"load_type": "INCREMENTAL", "watermark_column": "updated_at", "primary_key": "key",
      "last_watermark": "2024-01-01"}, "primary_key", "primary_key names key"),
    ({"load_type": "INCREMENTAL", "watermark_column": "updated_at", "primary_key": "amount", "detect_deletes": "Y",
      "last_watermark": "2024-01-01"}, "detect_deletes", "detect_deletes cannot compare primary key column amount"),
    ({"backend": "duckdb"}, "backend", "span (interval) can be read by pyarrow, connectorx, adbc"),
    ({"backend": "connectorx"}, "backend", "amount (numeric(10,2)) can be read by"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_row_its_table_refuses_is_located_at_its_cell_before_any_run(
        project: Project, pg: PostgresDatabase, row: dict[str, Any], column: str, fix: str) -> None:
    _project(project, pg, **row)
    result = project.ingest("validate-config", "--check-sources")
    assert result.exit_code == 2, result.output
    assert f"SourceConfig!{_letter(column)}2 {column}: " in result.output
    assert fix in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    run = project.ingest("run")  # the run refuses the same row at job start, with the same words
    assert run.exit_code == 1
    assert fix.split(" (")[0] in project.all_output_text().replace("\n", " ")


def test_rows_their_tables_accept_pass_and_nothing_is_read(project: Project, pg: PostgresDatabase) -> None:
    _project(project, pg, backend="pyarrow", include_columns="id, updated_at, amount",
             column_types="AMOUNT: text")
    result = project.ingest("validate-config", "--check-sources")
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output
    assert not (project.path / "lake").exists()


def test_an_unreachable_source_is_named_with_exit_1(project: Project, pg: PostgresDatabase) -> None:
    project.append_config('[sources.pg]\nhost = "127.0.0.1"\nport = 1\ndatabase = "x"\nusername = "u"\n'
                          'password = "canary-Pa55"\nconnect_timeout = 2\n', "secrets.toml")
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": "things", "load_type": "FULL", "enabled": "Y"}])
    result = project.ingest("validate-config", "--check-sources")
    assert result.exit_code == 1, result.output
    assert "could not check the rows of source pg" in result.output
    assert "canary-Pa55" not in result.output


def test_the_core_returns_located_problems(project: Project, pg: PostgresDatabase) -> None:
    _project(project, pg, backend="duckdb")
    found = check_against_sources(dlt_ingest.load_jobs())
    assert [(p.row, p.column) for p in found.problems] == [(2, "backend")]
    assert found.unreachable == []
