"""The embedded demo end to end: SQLite -> dlt -> date-partitioned Parquet, compared value by value."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from decimal import Decimal

import pyarrow as pa

from conftest import Project
from demo_changes import add_new_orders
from dlt_ingest.workbook.template import DEMO_ROWS

LAYOUT = re.compile(r"^(?P<table>[a-z_]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/\d+\.\d+\.[0-9a-f]+\.parquet$")


def _sqlite_rows(project: Project, query: str) -> list[tuple]:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        return connection.execute(query).fetchall()


def test_demo_run_writes_date_partitioned_parquet_and_summary(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert "Total Jobs: 3" in result.stdout
    assert "Successful: 3" in result.stdout
    assert "Failed: 0" in result.stdout
    assert "Rows: 3,620" in result.stdout
    today = datetime.now()
    for table in ("orders", "customers", "products"):
        files = project.lake_files("demo", table)
        assert len(files) == 1
        relative = files[0].relative_to(project.path / "lake" / "demo").as_posix()
        match = LAYOUT.match(relative)
        assert match, relative
        assert (match["table"], match["y"], match["m"], match["d"]) == (
            table, f"{today:%Y}", f"{today:%m}", f"{today:%d}")


def test_demo_values_round_trip_exactly(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    assert project.ingest("run").exit_code == 0
    orders = project.read_lake("demo", "orders").sort_by("id")
    source = _sqlite_rows(project, "SELECT id, total, note, updated_at FROM orders ORDER BY id")
    assert orders.num_rows == len(source) == 3000
    assert pa.types.is_decimal(orders.schema.field("total").type)
    lake = list(zip(orders["id"].to_pylist(), orders["total"].to_pylist(), orders["note"].to_pylist(),
                    orders["updated_at"].to_pylist(), strict=True))
    for (sid, total, note, updated), (lid, ltotal, lnote, lupdated) in zip(source, lake, strict=True):
        assert (sid, Decimal(str(total)), note) == (lid, ltotal, lnote)
        assert datetime.fromisoformat(updated) == lupdated.replace(tzinfo=None)
    customers = project.read_lake("demo", "customers")
    assert customers.num_rows == 500
    assert customers["credit_limit"].null_count == len(_sqlite_rows(
        project, "SELECT id FROM customers WHERE credit_limit IS NULL"))
    names = set(customers["name"].to_pylist())
    assert any("李雷" in n for n in names)


def test_audit_has_the_guide_columns_first_and_one_row_per_job(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    assert project.ingest("run").exit_code == 0
    rows = project.audit_rows()
    assert list(rows[0])[:7] == ["timestamp", "job_name", "status", "rows_processed", "duration_seconds",
                                 "partition_path", "error_message"]
    today = datetime.now()
    by_job = {r["job_name"]: r for r in rows}
    assert by_job["demo.orders"]["rows_processed"] == "3000"
    assert by_job["demo.orders"]["partition_path"] == f"demo/orders/{today:%Y/%m/%d}"
    assert by_job["demo.orders"]["watermark_start"] == "2024-01-01 00:00:00"
    assert by_job["demo.orders"]["watermark_end"] == _sqlite_rows(project, "SELECT max(updated_at) FROM orders")[0][0]
    assert {r["status"] for r in rows} == {"SUCCESS"}


def test_second_incremental_run_loads_only_new_rows(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    assert project.ingest("run", "--select", "demo.orders").exit_code == 0
    add_new_orders(project.path / "data" / "demo.sqlite", 25, "2030-01-01 00:00:00")
    second = project.ingest("run", "--select", "demo.orders")
    assert second.exit_code == 0, second.output
    audit = [r for r in project.audit_rows() if r["job_name"] == "demo.orders"]
    assert [r["rows_processed"] for r in audit] == ["3000", "25"]
    orders = project.read_lake("demo", "orders")
    assert orders.num_rows == 3025
    assert len(set(orders["id"].to_pylist())) == 3025


def test_full_load_appends_a_new_snapshot_each_run(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    assert project.ingest("run", "--select", "demo.products").exit_code == 0
    assert project.ingest("run", "--select", "demo.products").exit_code == 0
    files = project.lake_files("demo", "products")
    assert len(files) == 2
    load_ids = {".".join(f.name.split(".")[:2]) for f in files}
    assert len(load_ids) == 2


def test_failing_job_does_not_stop_the_others_and_exits_1(project: Project) -> None:
    project.write_workbook([*DEMO_ROWS, {"source_type": "sqlite", "source_name": "demo", "table_name": "missing",
                                         "load_type": "FULL", "enabled": "Y"}])
    result = project.ingest("run")
    assert result.exit_code == 1
    assert "Successful: 3" in result.stdout
    assert "  - demo.missing: table 'missing' not found" in result.stdout
    statuses = {r["job_name"]: r["status"] for r in project.audit_rows()}
    assert statuses == {"demo.orders": "SUCCESS", "demo.customers": "SUCCESS", "demo.products": "SUCCESS",
                        "demo.missing": "FAILED"}
    errors = list((project.path / "logs" / "errors").glob("demo_errors_*.log"))
    assert errors and "[FAILED] Job demo.missing" in errors[0].read_text()
