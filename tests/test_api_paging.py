"""API paging never guesses silently: against a real HTTP server on 127.0.0.1 (pytest-httpserver).

The endpoint of the newcomer's report answers `{"data": [...], "total_pages": 3}`; dlt can only guess its
first page number, and its guess (page 0) fetched page 1 twice and never page 3.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from conftest import Project
from services.fake_api import json_response
from test_api_source import api_row, configure_api, lake_ids, requests_to

TOTAL, PER_PAGE = 25, 10
ROWS = [{"id": i, "name": f"item {i}"} for i in range(1, TOTAL + 1)]


def total_pages_api(request: Request) -> Response:
    """Pages 1..3 of 10 records; like many APIs it answers page 1 for a page number below 1."""
    page = max(1, int(request.args.get("page", "1")))
    return json_response({"data": ROWS[(page - 1) * PER_PAGE: page * PER_PAGE], "total_pages": 3})


def test_a_guessed_paginator_that_repeats_a_page_fails_the_job_and_its_warning_reaches_the_audit(
        project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/items").respond_with_handler(total_pages_api)
    configure_api(project, httpserver)
    project.write_workbook([api_row(paginator=None)])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    audit = project.audit_rows()[0]
    assert audit["status"] == "FAILED"
    assert audit["error_message"] == (
        'pages 1 and 2 of items hold 10 identical record(s): the paginator ({"type": "page_number", "base_page": 0, '
        '"page_param": "page", "total_path": "total_pages"}) does not move to the next page the way the API expects '
        "(e.g. the number of the first page, base_page); set the row's paginator cell to match the API (see "
        "docs/api-sources.md#paginators)")
    assert audit["warnings"] == (
        'shop.items: dlt guessed how items pages ({"type": "page_number", "base_page": 0, "page_param": "page", '
        '"total_path": "total_pages"}); verify the paginator settings and write them in the row\'s paginator cell '
        "(see docs/api-sources.md#paginators)")
    assert "verify the paginator settings" in result.output  # the console shows dlt's guess as it happens
    assert project.lake_files("shop", "items") == []


def test_the_page_number_paginator_written_in_the_row_loads_each_record_once(
        project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/items").respond_with_handler(total_pages_api)
    configure_api(project, httpserver)
    project.write_workbook([api_row(paginator='{"type": "page_number", "base_page": 1, "total_path": "total_pages"}')])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert lake_ids(project) == list(range(1, TOTAL + 1))
    assert [r.args["page"] for r in requests_to(httpserver, "/api/items")] == ["1", "2", "3"]
    audit = project.audit_rows()[0]
    assert (audit["rows_processed"], audit["warnings"]) == ("25", "")


def test_records_without_paging_information_need_single_page_written_in_the_row(
        project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/items").respond_with_json(ROWS[:PER_PAGE])
    configure_api(project, httpserver)
    project.write_workbook([api_row(paginator=None)])
    assert project.ingest("run").exit_code == 1
    assert project.audit_rows()[0]["error_message"] == (
        "the first response of items holds 10 record(s) and no paging information dlt recognises, so only that page "
        "would be read: write single_page in the row's paginator cell if the endpoint returns every record at once, "
        "else the paginator it pages with (see docs/api-sources.md#paginators)")
    project.write_workbook([api_row(paginator="single_page")])
    assert project.ingest("run").exit_code == 0
    assert lake_ids(project) == list(range(1, PER_PAGE + 1))


@pytest.mark.parametrize("body", [
    pytest.param({"id": 1, "status": "green"}, id="a-single-entity"),
    pytest.param([], id="no-records"),
])
def test_a_response_without_a_list_of_records_needs_no_paginator(
        project: Project, httpserver: HTTPServer, body: Any) -> None:
    httpserver.expect_request("/api/items").respond_with_json(body)
    configure_api(project, httpserver)
    project.write_workbook([api_row(paginator=None)])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert project.audit_rows()[0]["rows_processed"] == str(1 if body else 0)


def test_a_configured_offset_the_api_ignores_fails_on_the_second_page(
        project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/items").respond_with_json({"items": ROWS[:PER_PAGE], "total": TOTAL})
    configure_api(project, httpserver)
    project.write_workbook([api_row(paginator='{"type": "offset", "limit": 10}', primary_key="id")])
    assert project.ingest("run").exit_code == 1
    assert project.audit_rows()[0]["error_message"].startswith("pages 1 and 2 of items hold 10 identical record(s)")
    assert len(requests_to(httpserver, "/api/items")) == 2
