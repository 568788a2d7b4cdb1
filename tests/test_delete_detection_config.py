"""Turning delete detection on: the workbook column (validated at its cell), the `[ingest] detect_deletes`
default (only for INCREMENTAL database jobs with a primary key, a row's N wins), and what a run shows:
the summary, the audit's rows_deleted and the run report, on the SQLite demo."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from openpyxl.utils import get_column_letter

from conftest import Project
from dlt_ingest.workbook.columns import COLUMNS
from dlt_ingest.workbook.template import DEMO_ROWS

ORDERS, CUSTOMERS = DEMO_ROWS[0], DEMO_ROWS[1]
API_ROW = {"source_type": "api", "source_name": "coins", "table_name": "coins", "api_endpoint": "coins",
           "load_type": "INCREMENTAL", "watermark_column": "updated", "primary_key": "id", "enabled": "Y"}


def _cell() -> str:
    return f"SourceConfig!{get_column_letter([c.name for c in COLUMNS].index('detect_deletes') + 1)}2"


@pytest.mark.parametrize(("row", "message"), [
    ({**ORDERS, "primary_key": None}, "detect_deletes: is Y but primary_key is empty: name the key column(s)"),
    ({**CUSTOMERS, "primary_key": "id"}, "detect_deletes: is Y but load_type is FULL: a FULL snapshot already "
                                         "leaves deleted rows out; set load_type to INCREMENTAL or detect_deletes "
                                         "to N"),
    (API_ROW, "detect_deletes: is Y but api sources cannot detect deletes (database sources can): set "
              "detect_deletes to N"),
], ids=["no-primary-key", "full-load", "api-source"])
def test_detect_deletes_where_it_cannot_work_is_refused_at_its_cell(project: Project, row: dict[str, Any],
                                                                    message: str) -> None:
    project.write_workbook([{**row, "detect_deletes": "Y"}])
    result = project.ingest("validate-config")
    assert result.exit_code == 2
    assert f"{_cell()} {message}" in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert project.ingest("run").exit_code == 2


def _delete_orders(project: Project, *ids: int) -> None:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute(f"DELETE FROM orders WHERE id IN ({', '.join(map(str, ids))})")
    connection.close()


def test_the_run_default_applies_to_incremental_jobs_with_a_key_and_the_summary_says_what_was_deleted(
        project: Project) -> None:
    project.append_config("[ingest]\ndetect_deletes = true")
    project.write_workbook([ORDERS, CUSTOMERS])  # customers is FULL: the default leaves it alone
    assert project.ingest("run").exit_code == 0
    _delete_orders(project, 1, 2999, 3000)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert "Deleted: 3 (demo.orders 3)" in result.output
    rows = {row["job_name"]: row for row in project.audit_rows()[-2:]}
    assert (rows["demo.orders"]["rows_deleted"], rows["demo.customers"]["rows_deleted"]) == ("3", "0")
    assert "_deleted_at" not in project.read_lake("demo", "customers").column_names
    report = next((project.path / "metadata").glob("run_*.html"), None)
    assert report is not None
    pages = "".join(page.read_text(encoding="utf-8") for page in (project.path / "metadata").glob("run_*.html"))
    assert "<th>deleted</th>" in pages.replace(' class="num"', "")


def test_a_row_that_says_n_keeps_deleted_rows_whatever_the_default(project: Project) -> None:
    project.append_config("[ingest]\ndetect_deletes = true")
    project.write_workbook([{**ORDERS, "detect_deletes": "N"}])
    assert project.ingest("run").exit_code == 0
    _delete_orders(project, 5)
    result = project.ingest("run")
    assert result.exit_code == 0 and "Deleted:" not in result.output
    assert project.audit_rows()[-1]["rows_deleted"] == "0"
    assert "_deleted_at" not in project.read_lake("demo", "orders").column_names


def test_a_setting_that_is_not_a_boolean_is_a_clear_error(project: Project) -> None:
    project.append_config('[ingest]\ndetect_deletes = "often"')
    project.write_workbook([ORDERS])
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: [ingest] detect_deletes = 'often' is not true or false: fix it in "
                                     ".dlt/config.toml (or INGEST__DETECT_DELETES)")


def test_a_primary_key_the_comparison_cannot_hold_exactly_fails_the_job_naming_the_column(project: Project) -> None:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.executescript("CREATE TABLE readings (sensor REAL PRIMARY KEY, value TEXT, updated_at TIMESTAMP);"
                                 "INSERT INTO readings VALUES (1.5, 'a', '2024-01-01 00:00:00');")
    connection.close()
    project.write_workbook([{**ORDERS, "table_name": "readings", "primary_key": "sensor", "detect_deletes": "Y"}])
    result = project.ingest("run")
    assert result.exit_code == 1
    error = project.audit_rows()[-1]["error_message"]
    assert error.startswith("detect_deletes cannot compare primary key column sensor (real, lake type float64)")
    assert error.endswith("set detect_deletes to N")
    assert not (project.path / "lake" / "demo" / "readings").exists()


def test_lookups_that_miss_keys_the_source_holds_fail_the_job_instead_of_writing_tombstones(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real driver misbinds a key today; this stands in for one that would (the canary keys catch it)."""
    project.write_workbook([{**ORDERS, "detect_deletes": "Y"}])
    assert project.ingest("run").exit_code == 0
    _delete_orders(project, 42)
    monkeypatch.setattr("dlt_ingest.sources.sql.keys.SqlKeys.present", lambda self, keys: set())
    assert project.ingest("run").exit_code == 1
    row = project.audit_rows()[-1]
    assert row["status"] == "FAILED" and "found none of them" in row["error_message"]
    assert project.read_lake("demo", "orders")["_deleted_at"].null_count == 3000  # no tombstone


def documented_spark_sql() -> list[str]:
    """The Spark SQL of docs/destinations.md that reads an INCREMENTAL table's live rows, statement by statement."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "destinations.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sql\n(.*?)```", text, flags=re.S) if "mergeSchema" in b)
    return [statement.strip() for statement in block.split(";") if statement.strip()]


def test_the_spark_sql_in_the_docs_reads_the_live_rows_without_deleted_ones(project: Project, spark: Any) -> None:
    project.write_workbook([{**ORDERS, "detect_deletes": "Y"}])
    assert project.ingest("run").exit_code == 0
    _delete_orders(project, 1, 77, 3000)
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute("UPDATE orders SET status = 'moved', updated_at = '2031-01-01 00:00:00' WHERE id = 2")
    connection.close()
    assert project.ingest("run").exit_code == 0
    lake = (project.path / "lake").as_posix()
    settings, query = (s.split("--")[0].strip() if s.startswith("SET") else s for s in documented_spark_sql())
    spark.sql(settings)
    live = spark.sql(query.replace("/lake/", f"{lake}/")).collect()
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        source = dict(connection.execute("SELECT id, status FROM orders").fetchall())
    connection.close()
    assert {row["id"]: row["status"] for row in live} == source
