"""Current-state Delta tables beside the append-only history, upserted on the primary key."""

from __future__ import annotations

import sqlite3

import pytest
from deltalake import DeltaTable

from conftest import Project
from demo_changes import add_new_orders
from dlt_ingest.workbook.template import DEMO_ROWS

ORDERS = next(r for r in DEMO_ROWS if r["table_name"] == "orders")


def _touch_orders(project: Project) -> None:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute("UPDATE orders SET status = 'refunded', updated_at = '2031-01-01 00:00:00' WHERE id <= 10")
    add_new_orders(project.path / "data" / "demo.sqlite", 5, "2031-01-01 00:00:00")


@pytest.mark.parametrize("enable", ["row", "setting"])
def test_current_table_holds_one_latest_row_per_key_beside_the_history(project: Project, enable: str) -> None:
    if enable == "row":
        project.write_workbook([{**ORDERS, "current_table": "Y"}])
    else:
        project.append_config("[ingest]\ncurrent_tables = true")
        project.write_workbook([ORDERS])
    assert project.ingest("run").exit_code == 0
    _touch_orders(project)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    history = project.read_lake("demo", "orders")
    assert history.num_rows == 3000 + 10 + 5  # every version, append-only
    current = DeltaTable(str(project.path / "lake" / "demo" / "orders_current")).to_pyarrow_table()
    ids = current["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 3005
    refunded = {i for i, s in zip(ids, current["status"].to_pylist(), strict=True) if s == "refunded"}
    assert set(range(1, 11)) <= refunded
    assert [r["rows_processed"] for r in project.audit_rows()] == ["3000", "15"]


def test_current_table_without_primary_key_is_a_located_error(project: Project) -> None:
    project.write_workbook([{**ORDERS, "primary_key": None, "current_table": "Y"}])
    result = project.ingest("validate-config")
    assert result.exit_code == 2
    assert "current_table: is Y but primary_key is empty" in result.stderr


def test_setting_that_is_not_a_boolean_is_a_clear_error(project: Project) -> None:
    project.append_config('[ingest]\ncurrent_tables = "sometimes"')
    project.write_workbook([ORDERS])
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: [ingest] current_tables = 'sometimes' is not true or false: fix it in "
                                     ".dlt/config.toml (or INGEST__CURRENT_TABLES)")
