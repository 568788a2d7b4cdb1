"""What a run leaves behind: schema-change records, dlt's own log lines, destination log, remote audit."""

from __future__ import annotations

import csv
import io
import logging
import sqlite3

import fsspec
import pytest

from conftest import Project
from dlt_ingest.secrets.chain import use_project
from dlt_ingest.workbook.template import DEMO_ROWS

PRODUCTS = [r for r in DEMO_ROWS if r["table_name"] == "products"]


def test_new_column_is_reported_as_schema_change_in_log_and_audit(project: Project) -> None:
    project.write_workbook(PRODUCTS)
    assert project.ingest("run").exit_code == 0
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute("ALTER TABLE products ADD COLUMN discount NUMERIC(5, 2)")
        connection.execute("UPDATE products SET discount = 0.15")
    result = project.ingest("run")
    assert result.exit_code == 0
    audit = project.audit_rows()
    assert [(r["schema_changed"], r["schema_changes"]) for r in audit] == [("false", ""),
                                                                            ("true", "added discount numeric(5,2)")]
    assert int(audit[1]["schema_version"]) > int(audit[0]["schema_version"])
    logs = "".join(p.read_text(encoding="utf-8") for p in (project.path / "logs").glob("main_orchestrator_*.log"))
    expected = (f"[SCHEMA CHANGE] demo.products: version {audit[1]['schema_version']} "
                f"(was {audit[0]['schema_version']}): added discount numeric(5,2)")
    assert expected in logs
    assert "schema changed" in result.stdout


def test_dlt_own_log_records_land_in_the_log_of_the_job_that_emitted_them(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write_workbook(PRODUCTS)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "INFO")
    use_project(str(project.path))
    try:
        assert project.ingest("run").exit_code == 0
    finally:
        logging.getLogger("dlt").setLevel(logging.WARNING)
    [source_log] = (project.path / "logs").glob("source_demo_*.log")
    text = source_log.read_text(encoding="utf-8")
    assert "Running file normalizing" in text  # logged by dlt itself, not by dlt-ingest
    for line in text.splitlines():
        if line[:4].isdigit():
            assert line[19:22] == " | ", line


def test_destination_log_records_what_was_written(project: Project) -> None:
    project.write_workbook(PRODUCTS)
    assert project.ingest("run").exit_code == 0
    [destination_log] = (project.path / "logs").glob("destination_local_*.log")
    assert "Partition: demo/products/" in destination_log.read_text(encoding="utf-8")


def test_audit_dir_may_be_a_bucket_url(project: Project) -> None:
    project.write_workbook(PRODUCTS)
    assert project.ingest("run", "--audit-dir", "memory://audit-test/metadata").exit_code == 0
    assert project.ingest("run", "--audit-dir", "memory://audit-test/metadata").exit_code == 0
    filesystem = fsspec.filesystem("memory")
    [path] = filesystem.glob("/audit-test/metadata/audit_*.csv")
    rows = list(csv.DictReader(io.StringIO(filesystem.cat_file(path).decode())))
    assert [r["job_name"] for r in rows] == ["demo.products", "demo.products"]
    status = project.ingest("status", "--audit-dir", "memory://audit-test/metadata")
    assert "demo.products" in status.stdout
    assert not (project.path / "metadata").exists()
