"""A damaged audit file (bytes that are no UTF-8, a NUL, a quote never closed, a line of other fields) costs
no run and no report: `run` appends after it keeping its bytes, `status` and `report` read every good line,
before and after the damage, and say how many they left out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from conftest import Project
from dlt_ingest.records.audit import AUDIT_COLUMNS, read_audit, upgrade_header

CUSTOMERS = {"source_type": "sqlite", "source_name": "demo", "table_name": "customers", "load_type": "FULL",
             "enabled": "Y"}
PRODUCTS = {**CUSTOMERS, "table_name": "products"}

DAMAGE = [
    pytest.param(b"garbage\xff\xfe,not utf-8\n", id="not-utf-8"),
    pytest.param(b"2026-01-01,demo.x\x00,NUL\n", id="nul"),
    pytest.param(b'2026-01-01,"demo.customers,a quote never closed\n', id="open-quote"),
    pytest.param(b"a,b,c\n", id="too-few-fields"),
    pytest.param(b",".join([b"x"] * (len(AUDIT_COLUMNS) + 3)) + b"\n", id="too-many-fields"),
    pytest.param(b"2026-01-01,demo.x,FAILED", id="no-newline"),
]


def _audit_file(project: Project) -> Path:
    (path,) = sorted((project.path / "metadata").glob("audit_*.csv"))
    return path


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_audit_line_costs_no_run_status_or_report(project: Project, damage: bytes,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    project.write_workbook([CUSTOMERS])
    assert project.ingest("run").exit_code == 0
    path = _audit_file(project)
    with path.open("ab") as handle:
        handle.write(damage)
    before = path.read_bytes()

    project.write_workbook([CUSTOMERS, PRODUCTS])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(before)  # the damaged bytes stay as they were

    with caplog.at_level(logging.WARNING, logger="dlt_ingest.audit"):
        rows = list(read_audit(project.path / "metadata"))
    assert [(r["job_name"], r["status"]) for r in rows] == [
        ("demo.customers", "SUCCESS"), ("demo.customers", "SUCCESS"), ("demo.products", "SUCCESS")]
    assert "1 damaged line(s) left out" in caplog.text

    status = project.ingest("status", "--json")
    assert status.exit_code == 0, status.output
    assert "demo.products" in status.output and "Internal error" not in status.output
    report = project.ingest("report")
    assert report.exit_code == 0, report.output


def test_an_older_audit_file_is_upgraded_keeping_a_damaged_line_as_it_was() -> None:
    old_columns = AUDIT_COLUMNS[:5]
    good = ",".join(["2026-01-01 00:00:00", "demo.customers", "SUCCESS", "500", "0.1"])
    damaged = '2026-01-01,"demo.x,a quote never closed\n'
    text = ",".join(old_columns) + "\n" + good + "\n" + damaged + good + "\n"
    upgraded = upgrade_header(text).splitlines(keepends=True)
    assert upgraded[0] == ",".join(AUDIT_COLUMNS) + "\n"
    assert upgraded[2] == damaged
    assert upgraded[1] == upgraded[3] == good + "," * (len(AUDIT_COLUMNS) - 5) + "\n"
