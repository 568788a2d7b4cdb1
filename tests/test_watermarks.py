"""Where the truth about watermarks lives: the lake's state; the workbook seeds it and --reset-state re-seeds it."""

from __future__ import annotations

import sqlite3

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS

ORDERS = next(r for r in DEMO_ROWS if r["table_name"] == "orders")


def _count(project: Project, where: str) -> int:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        return int(connection.execute(f"SELECT count(*) FROM orders WHERE {where}").fetchone()[0])


def test_editing_last_watermark_later_is_warned_and_the_stored_cursor_wins(project: Project) -> None:
    project.write_workbook([ORDERS])
    assert project.ingest("run").exit_code == 0
    project.write_workbook([{**ORDERS, "last_watermark": "2024-01-20T00:00:00"}])
    result = project.ingest("run")
    assert result.exit_code == 0
    assert ("demo.orders: last_watermark in the workbook (2024-01-20 00:00:00) differs from the one the stored "
            "state started from") in result.stdout
    assert "ingest run --select 'demo.orders' --reset-state" in result.stdout
    second = project.audit_rows()[-1]
    assert second["rows_processed"] == "0"
    assert "differs from the one the stored state started from" in second["warnings"]


def test_reset_state_restarts_from_the_workbook_value(project: Project) -> None:
    project.write_workbook([ORDERS])
    assert project.ingest("run").exit_code == 0
    project.write_workbook([{**ORDERS, "last_watermark": "2024-01-20T00:00:00"}])
    result = project.ingest("run", "--select", "demo.orders", "--reset-state")
    assert result.exit_code == 0, result.output
    last = project.audit_rows()[-1]
    assert last["watermark_start"] == "2024-01-20 00:00:00"
    assert int(last["rows_processed"]) == _count(project, "updated_at >= '2024-01-20 00:00:00'")
    again = project.ingest("run")
    assert "differs from" not in again.stdout  # the re-seeded state now matches the workbook


def test_reset_state_needs_select(project: Project) -> None:
    project.write_workbook([ORDERS])
    result = project.ingest("run", "--reset-state")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --reset-state needs --select naming the job(s) whose stored cursor to forget")
