"""Unity Catalog registration, executed for real on a local Spark (see tests/spark_session.py for why Spark).

`ingest run` with `[ingest.unity_catalog] use_spark = true` registers the lake written by the run in the
test's Spark session; the views are then queried and must return exactly the source's live rows: after a
second FULL snapshot, a new column, runs killed after their files were uploaded (files of a load with no
completion record) and deleted keys (tombstone rows in the history, as delete detection writes them).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import LocalLake
from reading_rule import orphan_files
from spark_session import rows
from test_faults_kill import run_killed_at

ORDERS, CUSTOMERS, PRODUCTS = DEMO_ROWS
ORDER_COLUMNS = ("id", "status", "note", "total", "updated_at")
CUSTOMER_COLUMNS = ("id", "name", "email", "country", "credit_limit")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def use_spark(project: Project, schema: str) -> None:
    project.append_config(f'[ingest.unity_catalog]\ncatalog = "spark_catalog"\nschema = "{schema}"\n'
                          f"use_spark = true")


def canonical(value: Any) -> Any:
    """One spelling per value: SQLite keeps money and times as text, the lake as decimals and timestamps."""
    if value is None:
        return None
    text = str(value)
    return Decimal(text) if NUMBER.fullmatch(text) else text


def source_rows(project: Project, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        found = connection.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return sorted(tuple(canonical(v) for v in row) for row in found)


def view_rows(spark: Any, view: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return sorted(tuple(canonical(v) for v in row) for row in rows(spark, f"SELECT {', '.join(columns)} FROM {view}"))


def assert_live(project: Project, spark: Any, schema: str, orders: list[Any] | None = None,
                customers: list[Any] | None = None) -> None:
    assert view_rows(spark, f"spark_catalog.{schema}.orders", ORDER_COLUMNS) == (
        orders if orders is not None else source_rows(project, "orders", ORDER_COLUMNS))
    assert view_rows(spark, f"spark_catalog.{schema}.customers", CUSTOMER_COLUMNS) == (
        customers if customers is not None else source_rows(project, "customers", CUSTOMER_COLUMNS))


def run(project: Project) -> str:
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert "Note: Unity Catalog: 2 of 2 job(s) registered in catalog spark_catalog" in result.output
    return result.output


def change_sources(project: Project, stamp: str) -> None:
    """Updated and new orders; one customer renamed, one deleted, one added (the next FULL snapshot)."""
    database = project.path / "data" / "demo.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE orders SET status = 'refunded', updated_at = ? WHERE id <= 10", (stamp,))
        connection.execute("UPDATE customers SET name = 'Renamed ' || id WHERE id IN (1, 3)")
        connection.execute("DELETE FROM customers WHERE id = (SELECT max(id) FROM customers WHERE id < 400)")
        connection.execute("INSERT INTO customers (id, name, email, country, credit_limit, signup_date) "
                           "VALUES ((SELECT max(id) + 1 FROM customers), 'New Customer', NULL, 'DE', '10.50', "
                           "'2026-01-01')")
        columns = "customer_id, product_id, quantity, unit_price, total, status, note, created_at"
        connection.execute(f"INSERT INTO orders (id, {columns}, updated_at) SELECT id + (SELECT max(id) FROM orders), "
                           f"{columns}, ? FROM orders WHERE id <= 5", (stamp,))


def write_tombstones(project: Project, ids: list[int]) -> None:
    """What delete detection (issue 21) writes: a completed load whose rows hold the key and `_deleted_at`."""
    load_id = f"{time.time():.7f}"
    folder = project.path / "lake" / "demo" / "orders" / "2026" / "12" / "31"
    folder.mkdir(parents=True, exist_ok=True)
    tombstones = pa.table({"id": pa.array(ids, pa.int64()),
                           "_deleted_at": pa.array([1_800_000_000_000_000] * len(ids), pa.timestamp("us", "UTC"))})
    pq.write_table(tombstones, folder / f"{load_id}.tombstones.parquet")
    record = {"load_id": load_id, "schema_name": "ingest_demo_orders", "status": 0,
              "inserted_at": "2026-12-31T00:00:00+00:00", "schema_version_hash": ""}
    loads = project.path / "lake" / "demo" / "_dlt_loads" / f"ingest_demo_orders__{load_id}.jsonl"
    loads.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.executemany("DELETE FROM orders WHERE id = ?", [(i,) for i in ids])


def test_views_return_exactly_the_live_rows_through_snapshots_new_columns_crashes_and_deletes(
        project: Project, spark: Any) -> None:
    schema = "live_demo"
    use_spark(project, "live_{source}")
    project.write_workbook([ORDERS, CUSTOMERS])
    run(project)
    assert sorted(r[1] for r in rows(spark, f"SHOW TABLES IN spark_catalog.{schema}")) == [
        "_dlt_loads", "customers", "customers__history", "orders", "orders__history"]
    assert_live(project, spark, schema)

    change_sources(project, "2031-01-01 00:00:00")  # a second FULL snapshot, updated and new versions
    run(project)
    assert_live(project, spark, schema)
    assert rows(spark, f"SELECT count(*) FROM spark_catalog.{schema}.customers__history") == [(1000,)]

    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:  # the source gains a column
        connection.execute("ALTER TABLE orders ADD COLUMN channel TEXT")
        connection.execute("UPDATE orders SET channel = 'web', updated_at = '2032-01-01 00:00:00' WHERE id <= 3")
    run(project)
    described = rows(spark, f"DESCRIBE TABLE spark_catalog.{schema}.orders__history")
    assert ("channel", "string", None) in described
    assert view_rows(spark, f"spark_catalog.{schema}.orders", ("id", "channel")) == source_rows(
        project, "orders", ("id", "channel"))
    assert_live(project, spark, schema)

    before_orders = source_rows(project, "orders", ORDER_COLUMNS)
    before_customers = source_rows(project, "customers", CUSTOMER_COLUMNS)
    change_sources(project, "2033-01-01 00:00:00")
    assert run_killed_at(project, "after_files").returncode == -signal.SIGKILL  # orders: files, no record
    project.write_workbook([CUSTOMERS, ORDERS])
    assert run_killed_at(project, "after_files").returncode == -signal.SIGKILL  # customers: the same
    lake = LocalLake(project)
    assert orphan_files(lake, "demo", "orders") and orphan_files(lake, "demo", "customers")
    assert_live(project, spark, schema, before_orders, before_customers)  # the dead loads are invisible

    write_tombstones(project, [4, 5, 6])
    run(project)  # a newer load than the tombstones: their column is still registered (caught up, not skipped)
    assert "_deleted_at" in [r[0] for r in rows(spark, f"DESCRIBE TABLE spark_catalog.{schema}.orders__history")]
    assert "_deleted_at" not in [r[0] for r in rows(spark, f"DESCRIBE TABLE spark_catalog.{schema}.orders")]
    assert_live(project, spark, schema)
    assert not {4, 5, 6} & {r[0] for r in rows(spark, f"SELECT id FROM spark_catalog.{schema}.orders")}

    run(project)  # nothing new: the same objects, the same rows
    assert len(rows(spark, f"SHOW TABLES IN spark_catalog.{schema}")) == 5
    assert_live(project, spark, schema)


def test_objects_it_did_not_create_are_left_alone_and_named_in_a_note(project: Project, spark: Any) -> None:
    spark.sql("CREATE SCHEMA IF NOT EXISTS spark_catalog.theirs_demo")
    spark.sql("CREATE OR REPLACE VIEW spark_catalog.theirs_demo.orders AS SELECT 42 AS answer")
    spark.sql("CREATE TABLE IF NOT EXISTS spark_catalog.theirs_demo.customers__history (x INT) USING PARQUET")
    use_spark(project, "theirs_{source}")
    project.write_workbook([ORDERS, CUSTOMERS, PRODUCTS])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert ("Note: Unity Catalog: `spark_catalog`.`theirs_demo`.`orders` exists and was not created by dlt-ingest: "
            "left alone (the live rows of demo.orders are not registered)") in result.output
    assert ("Note: Unity Catalog: demo.customers failed: `spark_catalog`.`theirs_demo`.`customers__history` exists "
            "and was not created by dlt-ingest: left alone; rename or drop it to register demo.customers"
            ) in result.output
    assert "Note: Unity Catalog: 2 of 3 job(s) registered in catalog spark_catalog" in result.output
    assert rows(spark, "SELECT * FROM spark_catalog.theirs_demo.orders") == [(42,)]
    assert rows(spark, "SELECT count(*) FROM spark_catalog.theirs_demo.products") == [(120,)]
    assert project.ingest("run").exit_code == 0  # and again: still left alone, still no failed job
    assert rows(spark, "SELECT * FROM spark_catalog.theirs_demo.orders") == [(42,)]


@pytest.mark.parametrize(("settings", "message"), [
    ('catalog = "main"', "Error: [ingest.unity_catalog] needs warehouse_id (a SQL warehouse) or use_spark = true "
                         "(the cluster's Spark session): set one in .dlt/config.toml"),
    ('catalog = "main"\nuse_spark = "sometimes"', "Error: [ingest.unity_catalog] use_spark = 'sometimes' is not "
                                                  "true or false: fix it in .dlt/config.toml (or "
                                                  "INGEST__UNITY_CATALOG__USE_SPARK)"),
    ('catalog = "main"\nwarehouse_id = "w"\ntimeout_seconds = 0',
     "Error: [ingest.unity_catalog] timeout_seconds = 0: use 1 or more"),
])
def test_wrong_catalog_settings_stop_the_run_before_any_job(project: Project, settings: str, message: str) -> None:
    project.append_config(f"[ingest.unity_catalog]\n{settings}")
    project.write_workbook([CUSTOMERS])
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert project.audit_rows() == []


def test_a_lake_path_with_a_quote_is_a_literal_spark_reads(project: Project, spark: Any, tmp_path: Path) -> None:
    lake = tmp_path / "it's the lake"  # (a backslash would be Hadoop's glob escape: Spark cannot read it)
    project.append_config(f'[destination.filesystem]\nbucket_url = "{lake}"')
    use_spark(project, "quoted_{source}")
    project.write_workbook([CUSTOMERS])
    result = project.ingest("run")
    assert result.exit_code == 0 and "1 of 1 job(s) registered" in result.output, result.output
    assert rows(spark, "SELECT count(*) FROM spark_catalog.quoted_demo.customers") == [(500,)]


def test_an_incremental_table_without_a_primary_key_shows_every_completed_row(project: Project, spark: Any) -> None:
    use_spark(project, "append_{source}")
    project.write_workbook([{**ORDERS, "primary_key": None}])
    assert project.ingest("run").exit_code == 0
    change_sources(project, "2031-01-01 00:00:00")
    assert project.ingest("run").exit_code == 0
    expected = rows(spark, "SELECT count(*) FROM spark_catalog.append_demo.orders__history")
    assert rows(spark, "SELECT count(*) FROM spark_catalog.append_demo.orders") == expected == [(3000 + 10 + 5,)]
    details = dict(r[:2] for r in rows(spark, "DESCRIBE TABLE EXTENDED spark_catalog.append_demo.orders"))
    assert details["Comment"] == ("demo.orders (INCREMENTAL): every row of completed loads (no primary_key: versions "
                                  "are not merged). Maintained by dlt-ingest after each run.")


def test_use_spark_without_a_spark_session_is_a_note_and_starts_no_spark(project: Project) -> None:
    use_spark(project, "nosession_{source}")
    project.write_workbook([CUSTOMERS])
    done = subprocess.run([str(Path(sys.executable).parent / "ingest"), "run"], cwd=project.path, text=True,
                          capture_output=True, timeout=300, env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("Note: Unity Catalog: stopped, 1 job(s) not registered: [ingest.unity_catalog] use_spark = true needs a "
            "Spark session: run on a Databricks cluster, or set warehouse_id to use a SQL warehouse") in done.stdout
