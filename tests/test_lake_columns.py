"""Which columns dlt adds in the lake (docs/destinations.md#columns-dlt-adds): none to a database table,
`_dlt_load_id` and `_dlt_id` to API records, the parent link and list position to their child tables."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from test_api_source import api_row, configure_api


def test_database_tables_hold_the_source_columns_and_api_tables_dlts_two_more(
        project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/items").respond_with_json([{"id": 1, "tags": ["a", "b"]}])
    configure_api(project, httpserver)
    project.write_workbook([DEMO_ROWS[2], api_row()])
    assert project.ingest("run").exit_code == 0
    assert project.read_lake("demo", "products").column_names == ["id", "sku", "name", "category", "price",
                                                                   "weight_kg"]
    items = project.read_lake("shop", "items")
    assert sorted(items.column_names) == ["_dlt_id", "_dlt_load_id", "id"]
    load_id = ".".join(project.lake_files("shop", "items")[0].name.split(".")[:2])  # as in the file name
    assert set(items["_dlt_load_id"].to_pylist()) == {load_id}
    tags = project.read_lake("shop", "items__tags")
    assert sorted(tags.column_names) == ["_dlt_id", "_dlt_list_idx", "_dlt_parent_id", "value"]
    assert set(tags["_dlt_parent_id"].to_pylist()) == set(items["_dlt_id"].to_pylist())
