"""Unity Catalog registration through a SQL warehouse: the real Databricks SDK against the local workspace.

The fake workspace (tests/services/databricks_api.py) records every statement; its engine is the local
Spark session where the SQL must run for real, or a small scripted catalog where Spark cannot follow (a
lake in Azurite, a Delta table: local Spark has neither the Azure nor the Delta jars).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import AzuriteLake
from secret_stores import workspace_fixture  # noqa: F401
from services.databricks_api import TOKEN, WAREHOUSE, DatabricksWorkspace, SqlFailure, SqlResult
from spark_session import spark_engine
from test_unity_catalog import CUSTOMER_COLUMNS, source_rows, view_rows

ORDERS, CUSTOMERS, _ = DEMO_ROWS
NAME = r"((?:`[^`]*`\.?){3})"


def use_warehouse(project: Project, schema: str, extra: str = "") -> None:
    project.append_config(f'[ingest.unity_catalog]\ncatalog = "spark_catalog"\nschema = "{schema}"\n'
                          f'warehouse_id = "{WAREHOUSE}"\n{extra}')


class ScriptedCatalog:
    """Just enough of a catalog for statements Spark cannot run here: objects, their properties, locations."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def __call__(self, statement: str) -> SqlResult:
        found = re.search(NAME, statement)
        name = found.group(1) if found else ""
        verb = " ".join(statement.split()[:3]).upper()
        if verb.startswith(("SHOW TBLPROPERTIES", "DESCRIBE TABLE")) and name not in self.objects:
            raise SqlFailure(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {name} cannot be found.")
        if verb.startswith("SHOW TBLPROPERTIES"):
            return ["key", "value"], [[k, v] for k, v in self.objects[name]["properties"].items()]
        if verb.startswith("DESCRIBE TABLE EXTENDED"):
            return ["col_name", "data_type", "comment"], [["Location", self.objects[name]["location"], ""]]
        if verb.startswith("DESCRIBE TABLE"):
            return ["col_name", "data_type", "comment"], [[c, "string", None] for c in self.objects[name]["columns"]]
        if verb.startswith(("CREATE TABLE", "CREATE OR REPLACE")):
            location = re.search(r"LOCATION '([^']*)'", statement)
            properties = dict(re.findall(r"'(dlt_ingest\.[a-z_]+)' = '([^']*)'", statement))
            columns = re.findall(r"^  `([^`]+)` ", statement, re.MULTILINE)
            self.objects[name] = {"properties": properties, "location": location.group(1) if location else "",
                                  "columns": columns}
        return [], []


def statements_like(server: DatabricksWorkspace, start: str) -> list[str]:
    return [s for _, s in server.statements if s.startswith(start)]


def test_statements_go_through_the_sdk_to_the_warehouse_and_build_views_that_return_the_live_rows(
        project: Project, workspace: DatabricksWorkspace, spark: Any) -> None:
    workspace.sql_engine = spark_engine(spark)
    workspace.pending_polls = 1  # every statement is PENDING once: the SDK polls for it
    use_warehouse(project, "warehouse_{source}")
    project.write_workbook([CUSTOMERS])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert "Note: Unity Catalog: 1 of 1 job(s) registered in catalog spark_catalog" in result.output
    assert {warehouse for warehouse, _ in workspace.statements} == {WAREHOUSE}
    assert [s.split("`")[0].strip() for _, s in workspace.statements] == [
        "CREATE SCHEMA IF NOT EXISTS", "SHOW TBLPROPERTIES", "SHOW TBLPROPERTIES", "CREATE TABLE IF NOT EXISTS",
        "CREATE TABLE IF NOT EXISTS", "SHOW TBLPROPERTIES", "CREATE OR REPLACE VIEW"]
    assert sum(1 for method, path in workspace.requests if method == "GET" and path.startswith(
        "/api/2.0/sql/statements/")) == len(workspace.statements)  # one poll each
    assert view_rows(spark, "spark_catalog.warehouse_demo.customers", CUSTOMER_COLUMNS) == source_rows(
        project, "customers", CUSTOMER_COLUMNS)

    workspace.statements.clear()
    assert project.ingest("run").exit_code == 0  # again: nothing created, the view redefined in place
    assert statements_like(workspace, "CREATE OR REPLACE") == []
    assert len(statements_like(workspace, "ALTER VIEW")) == 1
    assert len(statements_like(workspace, "REFRESH TABLE")) == 2
    assert TOKEN not in project.all_output_text() + result.output


def test_a_lake_in_azure_is_registered_at_its_abfss_location_without_credentials(
        project: Project, workspace: DatabricksWorkspace, azurite: Any) -> None:
    lake = AzuriteLake(project, azurite, "az")
    catalog = ScriptedCatalog()
    workspace.sql_engine = catalog
    use_warehouse(project, "azure_{source}")
    project.write_workbook([CUSTOMERS])
    result = project.ingest("run")
    assert result.exit_code == 0 and "1 of 1 job(s) registered" in result.output, result.output
    root = f"abfss://{lake.container}@{azurite.account}.dfs.core.windows.net/raw"
    assert catalog.objects["`spark_catalog`.`azure_demo`.`customers__history`"]["location"] == f"{root}/demo/customers"
    assert catalog.objects["`spark_catalog`.`azure_demo`.`_dlt_loads`"]["location"] == f"{root}/demo/_dlt_loads"
    sent = "\n".join(s for _, s in workspace.statements)
    assert azurite.key not in sent and azurite.key not in project.all_output_text()


def test_the_current_delta_table_is_registered_then_synced_with_its_log(
        project: Project, workspace: DatabricksWorkspace) -> None:
    catalog = ScriptedCatalog()
    workspace.sql_engine = catalog
    use_warehouse(project, "delta_{source}")
    project.write_workbook([{**ORDERS, "current_table": "Y"}])
    assert project.ingest("run").exit_code == 0
    location = (project.path / "lake" / "demo" / "orders_current").as_uri()
    assert statements_like(workspace, "CREATE TABLE IF NOT EXISTS `spark_catalog`.`delta_demo`.`orders_current`") == [
        f"CREATE TABLE IF NOT EXISTS `spark_catalog`.`delta_demo`.`orders_current` USING DELTA LOCATION '{location}'"]
    workspace.statements.clear()
    assert project.ingest("run").exit_code == 0
    assert statements_like(workspace, "MSCK REPAIR") == [
        "MSCK REPAIR TABLE `spark_catalog`.`delta_demo`.`orders_current` SYNC METADATA"]
    assert statements_like(workspace, "CREATE TABLE") == []


def _denied(server: DatabricksWorkspace) -> None:
    def engine(statement: str) -> SqlResult:
        raise SqlFailure("[PERMISSION_DENIED] User does not have CREATE SCHEMA on Catalog 'spark_catalog'.")
    server.sql_engine = engine


def _slow(server: DatabricksWorkspace) -> None:
    server.pending_polls = 10**6


@pytest.mark.parametrize(("extra", "arrange", "note"), [
    ("", _denied, "Unity Catalog: demo.customers failed: warehouse wh-dlt-ingest-tests: [PERMISSION_DENIED] User "
                  "does not have CREATE SCHEMA on Catalog 'spark_catalog'."),
    ("", lambda server: server.warehouses.clear(),
     "Unity Catalog: stopped, 1 job(s) not registered: warehouse wh-dlt-ingest-tests: "
     "ResourceDoesNotExist: SQL warehouse wh-dlt-ingest-tests does not exist."),
    ("timeout_seconds = 1", _slow, "Unity Catalog: stopped, 1 job(s) not registered: statement still running "
                                   "on warehouse wh-dlt-ingest-tests after 1s (cancelled); raise "
                                   "[ingest.unity_catalog] timeout_seconds or start the warehouse"),
], ids=["permission-denied", "unknown-warehouse", "timeout"])
def test_a_failing_warehouse_is_a_note_of_the_run_never_a_failed_job(
        project: Project, workspace: DatabricksWorkspace, extra: str,
        arrange: Callable[[DatabricksWorkspace], None], note: str) -> None:
    arrange(workspace)
    use_warehouse(project, "failing_{source}", extra)
    project.write_workbook([CUSTOMERS])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert f"Note: {note}" in result.output
    assert "Note: Unity Catalog: 0 of 1 job(s) registered in catalog spark_catalog" in result.output
    assert [r["status"] for r in project.audit_rows()] == ["SUCCESS"]
