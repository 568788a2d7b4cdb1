"""`source_type: api` end to end: workbook row + secrets.toml -> `ingest run` -> a real HTTP server on 127.0.0.1.

Every test drives the CLI against pytest-httpserver (a real werkzeug server); nothing in the HTTP client
is mocked. Retry waits are configured tiny (`backoff_factor`) so the suite stays fast.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl.utils import get_column_letter
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from conftest import Project
from dlt_ingest.workbook.columns import COLUMNS
from services.fake_api import (
    RECORDS,
    ChangingApi,
    cursor,
    guarded,
    header_link,
    json_link,
    json_response,
    offset,
    page_number,
)

FAST_RETRIES = "max_attempts = 3\nbackoff_factor = 0.01\nmax_retry_delay = 2\n"


def api_row(**changes: Any) -> dict[str, Any]:
    row = {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
           "paginator": "single_page", "load_type": "FULL", "enabled": "Y"}  # paginator=None: dlt detects it
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def configure_api(project: Project, server: HTTPServer, settings: str = "", name: str = "shop") -> str:
    base_url = server.url_for("/api")
    project.append_config(f'[sources.{name}]\nbase_url = "{base_url}"\n{FAST_RETRIES}{settings}', file="secrets.toml")
    return base_url


def lake_ids(project: Project, table: str = "items") -> list[int]:
    return sorted(project.read_lake("shop", table)["id"].to_pylist())


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def run_ok(project: Project, *args: str) -> Any:
    result = project.ingest("run", *args)
    assert result.exit_code == 0, result.output
    return result


# --- paginators --------------------------------------------------------------------------------------------


PAGINATORS = [
    pytest.param(None, None, json_link, id="auto-detected-json-link"),
    pytest.param("json_link", "data", json_link, id="json_link"),
    pytest.param("header_link", None, header_link, id="header_link"),
    pytest.param('{"type": "offset", "limit": 3}', "items", offset, id="offset"),
    pytest.param('{"type": "page_number", "base_page": 1, "total_path": "total_pages"}', "results", page_number,
                 id="page_number"),
    pytest.param('{"type": "cursor", "cursor_path": "cursors.next", "cursor_param": "after"}', "data", cursor,
                 id="cursor"),
]


@pytest.mark.parametrize(("paginator", "selector", "make_handler"), PAGINATORS)
def test_each_paginator_loads_every_page(project: Project, httpserver: HTTPServer, paginator: str | None,
                                         selector: str | None, make_handler: Callable[..., Any]) -> None:
    httpserver.expect_request("/api/items").respond_with_handler(make_handler(httpserver))
    configure_api(project, httpserver)
    project.write_workbook([api_row(paginator=paginator, data_selector=selector, primary_key="id")])
    run_ok(project)
    assert lake_ids(project) == [r["id"] for r in RECORDS]
    assert len(requests_to(httpserver, "/api/items")) == 3
    assert project.audit_rows()[0]["rows_processed"] == "7"


# --- authentication ----------------------------------------------------------------------------------------

SECRET = "s3cr3t-Value-42"
BASIC = "Basic " + base64.b64encode(f"analyst:{SECRET}".encode()).decode()

AUTHS = [
    pytest.param(f'api_key = "{SECRET}"\nauth_header = "x-cg-demo-api-key"\n',
                 lambda r: r.headers.get("x-cg-demo-api-key") == SECRET, id="api-key-in-header"),
    pytest.param(f'api_key = "{SECRET}"\nauth_query_param = "apikey"\n',
                 lambda r: r.args.get("apikey") == SECRET, id="api-key-in-query"),
    pytest.param(f'token = "{SECRET}"\n', lambda r: r.headers.get("Authorization") == f"Bearer {SECRET}",
                 id="bearer"),
    pytest.param(f'username = "analyst"\npassword = "{SECRET}"\n', lambda r: r.headers.get("Authorization") == BASIC,
                 id="basic"),
    pytest.param(f'auth_type = "oauth2"\nclient_id = "ingest-client"\nclient_secret = "{SECRET}"\n'
                 'oauth2_url = "{token_url}"\nscopes = "read:items, read:users"\n',
                 lambda r: r.headers.get("Authorization") == "Bearer issued-access-token", id="oauth2"),
]


def oauth_token_endpoint(request: Request) -> Response:
    form = request.form
    good = (form.get("grant_type"), form.get("client_id"), form.get("client_secret"), form.get("scope")) == (
        "client_credentials", "ingest-client", SECRET, "read:items read:users")
    if not good:
        return json_response({"error": "invalid_client"}, status=401)
    return json_response({"access_token": "issued-access-token", "expires_in": 3600})


@pytest.mark.parametrize(("settings", "is_allowed"), AUTHS)
def test_each_auth_type_is_sent_and_accepted(project: Project, httpserver: HTTPServer, settings: str,
                                             is_allowed: Callable[[Request], bool]) -> None:
    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(oauth_token_endpoint)
    httpserver.expect_request("/api/items").respond_with_handler(guarded(is_allowed))
    configure_api(project, httpserver, settings.replace("{token_url}", httpserver.url_for("/oauth/token")))
    project.write_workbook([api_row(data_selector="data")])
    run_ok(project)
    assert lake_ids(project) == [1, 2]
    assert SECRET not in project.all_output_text()


@pytest.mark.parametrize(("settings", "rejected_by"), [
    pytest.param(f'token = "{SECRET}"\n', "/api", id="api-rejects-token"),
    pytest.param(f'auth_type = "oauth2"\nclient_id = "other-client"\nclient_secret = "{SECRET}"\n'
                 'oauth2_url = "{token_url}"\n', "/oauth/token", id="token-endpoint-rejects-client"),
])
def test_rejected_credentials_fail_at_once_without_printing_them(
        project: Project, httpserver: HTTPServer, settings: str, rejected_by: str) -> None:
    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(oauth_token_endpoint)
    httpserver.expect_request("/api/items").respond_with_handler(guarded(lambda r: False))
    configure_api(project, httpserver, settings.replace("{token_url}", httpserver.url_for("/oauth/token")))
    project.write_workbook([api_row()])
    result = project.ingest("run")
    assert result.exit_code == 1
    expected = (f"credentials rejected by {httpserver.url_for(rejected_by)} (HTTP 401): check the "
                f"auth settings under [sources.shop] (see docs/api-sources.md#authentication)")
    assert f"[FAILED] Job shop.items: {expected}" in result.stdout
    assert f"  - shop.items: {expected}" in result.stdout  # the summary keeps [sources.shop]
    assert project.audit_rows()[0]["error_message"] == expected
    assert len(httpserver.log) == 1  # 401 is never retried
    assert SECRET not in result.output + project.all_output_text()


# --- incremental -------------------------------------------------------------------------------------------


INCREMENTAL_ROW = api_row(load_type="INCREMENTAL", watermark_column="updated_at", last_watermark="2026-01-01",
                          cursor_param="updated_since", primary_key="id", data_selector="data",
                          paginator='{"type": "page_number", "base_page": 1, "total_path": "total_pages"}')


def _sent_cursors(server: HTTPServer) -> list[str | None]:
    return [r.args.get("updated_since") for r in requests_to(server, "/api/items") if r.args.get("page", "1") == "1"]


def test_incremental_second_run_sends_the_stored_cursor_and_loads_only_new_records(
        project: Project, httpserver: HTTPServer) -> None:
    api = ChangingApi(6)
    httpserver.expect_request("/api/items").respond_with_handler(api)
    configure_api(project, httpserver)
    project.write_workbook([INCREMENTAL_ROW])
    run_ok(project)
    assert len(requests_to(httpserver, "/api/items")) == 3
    api.add(7, 8)
    run_ok(project)
    assert _sent_cursors(httpserver) == ["2026-01-01", "2026-01-06T00:00:00Z"]
    assert lake_ids(project) == [1, 2, 3, 4, 5, 6, 7, 8]
    audit = project.audit_rows()
    assert [r["rows_processed"] for r in audit] == ["6", "2"]
    assert [(r["watermark_start"], r["watermark_end"]) for r in audit] == [
        ("2026-01-01", "2026-01-06T00:00:00Z"), ("2026-01-06T00:00:00Z", "2026-01-08T00:00:00Z")]


def test_incremental_cursor_does_not_advance_when_a_later_page_fails(project: Project, httpserver: HTTPServer) -> None:
    api = ChangingApi(2)
    httpserver.expect_request("/api/items").respond_with_handler(api)
    configure_api(project, httpserver)
    project.write_workbook([INCREMENTAL_ROW])
    run_ok(project)
    api.add(3, 4, 5)
    api.fail_after_page = 1
    assert project.ingest("run").exit_code == 1
    api.fail_after_page = None
    run_ok(project)
    assert _sent_cursors(httpserver) == ["2026-01-01", "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"]
    assert lake_ids(project) == [1, 2, 3, 4, 5]
    assert [r["status"] for r in project.audit_rows()] == ["SUCCESS", "FAILED", "SUCCESS"]


# --- retries and failures ----------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_then_succeeds(project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/api/items").respond_with_response(
        json_response({"error": "slow down"}, status=429, headers={"Retry-After": "1"}))
    httpserver.expect_request("/api/items").respond_with_json(RECORDS[:3])
    configure_api(project, httpserver)
    project.write_workbook([api_row()])
    run_ok(project)
    assert [response.status_code for _, response in httpserver.log] == [429, 200]
    assert lake_ids(project) == [1, 2, 3]


def test_500_until_retries_run_out_fails_that_job_only(project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/broken").respond_with_response(json_response({"error": "database down"}, 500))
    httpserver.expect_request("/api/items").respond_with_json(RECORDS[:3])
    configure_api(project, httpserver)
    project.write_workbook([api_row(table_name="broken", api_endpoint="broken"), api_row()])
    result = project.ingest("run")
    assert result.exit_code == 1
    expected = (f"HTTP 500 from {httpserver.url_for('/api/broken')} after 3 attempt(s); "
                """body '{"error": "database down"}'""")
    audit = {r["job_name"]: r for r in project.audit_rows()}
    assert audit["shop.broken"]["status"] == "FAILED"
    assert audit["shop.broken"]["error_message"] == expected
    assert audit["shop.items"]["status"] == "SUCCESS"
    assert f"  - shop.broken: {expected}" in result.stdout
    assert len(requests_to(httpserver, "/api/broken")) == 3  # dlt's retries only; the job is not repeated on top
    assert lake_ids(project) == [1, 2, 3]


def test_non_json_response_fails_with_status_content_type_and_body_start(
        project: Project, httpserver: HTTPServer) -> None:
    page = "<html><body>Service maintenance until 14:00</body></html>"
    httpserver.expect_request("/api/items").respond_with_data(page, content_type="text/html; charset=utf-8")
    configure_api(project, httpserver)
    project.write_workbook([api_row()])
    result = project.ingest("run")
    assert result.exit_code == 1
    assert project.audit_rows()[0]["error_message"] == (
        f"{httpserver.url_for('/api/items')} did not return JSON (HTTP 200, text/html; charset=utf-8); "
        f"body starts '{page}': check api_endpoint and base_url")


@pytest.mark.parametrize("response", [
    pytest.param(json_response([]), id="empty-list"),
    pytest.param(json_response({"data": []}), id="empty-data-object"),
    pytest.param(Response(status=204), id="no-content"),
])
def test_empty_result_succeeds_with_zero_rows(project: Project, httpserver: HTTPServer, response: Response) -> None:
    httpserver.expect_request("/api/items").respond_with_response(response)
    configure_api(project, httpserver)
    project.write_workbook([api_row()])
    run_ok(project)
    audit = project.audit_rows()[0]
    assert (audit["status"], audit["rows_processed"], audit["error_message"]) == ("SUCCESS", "0", "")
    assert project.lake_files("shop", "items") == []


def test_a_full_endpoint_that_empties_lands_an_empty_snapshot(project: Project, httpserver: HTTPServer) -> None:
    """The newest snapshot is what the endpoint returns now: no records, not the records of the run before."""
    records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    httpserver.expect_ordered_request("/api/items").respond_with_json(records)
    httpserver.expect_ordered_request("/api/items").respond_with_json([])
    configure_api(project, httpserver)
    project.write_workbook([api_row()])
    run_ok(project)
    run_ok(project)
    files = project.lake_files("shop", "items")
    newest = max(files, key=lambda f: float(".".join(f.name.split(".")[:2])))
    snapshot = pq.read_table(newest)
    assert snapshot.num_rows == 0 and {"id", "name"} <= set(snapshot.schema.names)
    assert pq.read_schema(newest).field("id").type == pq.read_schema(min(files)).field("id").type
    audit = project.audit_rows()[-1]
    assert (audit["status"], audit["rows_processed"]) == ("SUCCESS", "0")
    assert newest.name.startswith(audit["load_id"] + ".")


def _newest_snapshot(project: Project, table: str) -> pa.Table:
    """The reading rule for a FULL table: the files of its folder's greatest load id."""
    files = project.lake_files("shop", table)
    newest = max(float(".".join(f.name.split(".")[:2])) for f in files)
    return pa.concat_tables([pq.read_table(f) for f in files if float(".".join(f.name.split(".")[:2])) == newest])


@pytest.mark.parametrize("second", [
    pytest.param([{"id": 1, "owner": {"name": "Ann", "address": {"city": "Oslo"}}, "sizes": [], "tags": []}],
                 id="records-without-nested-rows"),
    pytest.param([], id="no-records"),
])
def test_a_full_endpoint_whose_nested_lists_empty_lands_empty_child_snapshots(
        project: Project, httpserver: HTTPServer, second: list[dict[str, Any]]) -> None:
    """A child table's newest snapshot is what the records hold now, not the nested rows of the run before."""
    httpserver.expect_ordered_request("/api/items").respond_with_json({"data": NESTED})
    httpserver.expect_ordered_request("/api/items").respond_with_json({"data": second})
    configure_api(project, httpserver)
    project.write_workbook([api_row(primary_key="id")])
    run_ok(project)
    before = {table: pq.read_schema(project.lake_files("shop", table)[0]) for table in ("items__tags", "items__sizes")}
    run_ok(project)
    audit = project.audit_rows()[-1]
    assert _newest_snapshot(project, "items").num_rows == len(second)
    for table in ("items__tags", "items__sizes"):
        snapshot = _newest_snapshot(project, table)
        assert snapshot.num_rows == 0, table
        assert snapshot.schema.remove_metadata() == before[table].remove_metadata()  # same columns, same types
        newest = max(project.lake_files("shop", table), key=lambda f: float(".".join(f.name.split(".")[:2])))
        assert newest.name.startswith(audit["load_id"] + "."), table  # in the run's own load
    assert audit["child_tables"] == "items__sizes=0;items__tags=0"


@pytest.mark.parametrize(("setting", "message"), [
    ('timeout = "abc"', "timeout = 'abc' under [sources.shop] is not a number of at least 0.001"),
    ("timeout = 0", "timeout = 0 under [sources.shop] is not a number of at least 0.001"),
    ("timeout = nan", "timeout = nan under [sources.shop] is not a number of at least 0.001"),
    ("timeout = true", "timeout = True under [sources.shop] is not a number of at least 0.001"),
])
def test_a_retry_setting_that_is_no_number_in_range_fails_the_job_naming_it(
        project: Project, httpserver: HTTPServer, setting: str, message: str) -> None:
    httpserver.expect_request("/api/items").respond_with_json([{"id": 1}])
    configure_api(project, httpserver, settings=setting + "\n")
    project.write_workbook([api_row()])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    audit = project.audit_rows()[0]
    assert audit["error_message"].startswith(message)
    assert audit["attempts"] == "1"  # a wrong setting is never retried
    assert requests_to(httpserver, "/api/items") == []  # refused before any request


# --- nested records ----------------------------------------------------------------------------------------

NESTED = [
    {"id": 1, "owner": {"name": "Ann", "address": {"city": "Oslo"}}, "sizes": ["S", "M"],
     "tags": [{"label": "new", "weight": 1}, {"label": "sale", "weight": 2}]},
    {"id": 2, "owner": {"name": "Bo", "address": {"city": "Lund"}}, "sizes": ["L"],
     "tags": [{"label": "new", "weight": 3}, {"label": "eco", "weight": 4}]},
]


def test_nested_objects_flatten_and_lists_land_in_child_table_folders(
        project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/items").respond_with_json({"data": NESTED})
    configure_api(project, httpserver)
    project.write_workbook([api_row(primary_key="id")])
    run_ok(project)
    items = project.read_lake("shop", "items").sort_by("id")
    assert items["owner__name"].to_pylist() == ["Ann", "Bo"]
    assert items["owner__address__city"].to_pylist() == ["Oslo", "Lund"]
    tags = project.read_lake("shop", "items__tags")
    assert sorted(tags["label"].to_pylist()) == ["eco", "new", "new", "sale"]
    assert set(tags["_dlt_parent_id"].to_pylist()) == set(items["_dlt_id"].to_pylist())
    assert sorted(project.read_lake("shop", "items__sizes")["value"].to_pylist()) == ["L", "M", "S"]
    today = datetime.now()
    for table in ("items", "items__tags", "items__sizes"):
        folder = project.lake_files("shop", table)[0].parent.relative_to(project.path / "lake" / "shop")
        assert folder.as_posix() == f"{table}/{today:%Y/%m/%d}"
    audit = project.audit_rows()[0]
    assert (audit["rows_processed"], audit["child_tables"]) == ("2", "items__sizes=3;items__tags=4")


# --- validate-config ---------------------------------------------------------------------------------------


def cell(column: str, row: int) -> str:
    index = next(i for i, c in enumerate(COLUMNS, start=1) if c.name == column)
    return f"SourceConfig!{get_column_letter(index)}{row}"


BAD_CELLS = [
    ({"api_params": "{vs_currency: usd}"}, "api_params",
     "not valid JSON (Expecting property name enclosed in double quotes at character 2): {vs_currency: usd}; "
     'write an object such as {"per_page": 100} with double quotes'),
    ({"api_params": "[1, 2]"}, "api_params",
     'is JSON but not an object: [1, 2]; write an object such as {"per_page": 100}'),
    ({"api_params": '{"ids": {"a": 1}}'}, "api_params",
     "api_params: parameter 'ids' has a nested value; use a text, a number or a list of them"),
    ({"paginator": "offsett"}, "paginator",
     "'offsett' is not a paginator: use one of json_link, header_link, header_cursor, auto, single_page, cursor, "
     "offset, page_number"),
    ({"paginator": '{"type": "offset"}'}, "paginator", 'offset needs limit, e.g. {"type": "offset", "limit": 100}'),
    ({"paginator": '{"type": "json_link", "next": "links.next"}'}, "paginator",
     "json_link has no option next: its options are next_url_path"),
    ({"paginator": '{"limit": 10}'}, "paginator",
     'has no "type": add one of json_link, header_link, header_cursor, auto, single_page, cursor, offset, page_number'),
    ({"data_selector": "data[?"}, "data_selector", None),
    ({"api_endpoint": None}, "api_endpoint",
     "is empty: type the path below the source's base_url, e.g. coins/markets"),
]


def test_validate_config_locates_every_wrong_api_setting(project: Project) -> None:
    rows = [api_row(table_name=f"t{n}", **changes) for n, (changes, _, _) in enumerate(BAD_CELLS)]
    project.write_workbook(rows)
    result = project.ingest("validate-config")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(BAD_CELLS) + 1
    for number, (line, (_, column, message)) in enumerate(zip(lines, BAD_CELLS, strict=False), start=2):
        prefix = f"{cell(column, number)} {column}: "
        assert line.startswith(prefix), line
        if message is not None:
            assert line == prefix + message
    assert lines[-3].startswith(f"{cell('data_selector', 9)} data_selector: 'data[?' is not a JSONPath (")
    assert lines[-1] == f"config/ingestion_config.xlsx: {len(BAD_CELLS)} problems; nothing was run."


def test_guide_example_row_with_params_section_and_header_key(project: Project, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/coins/markets").respond_with_json([{"id": "bitcoin", "current_price": 1.5}])
    configure_api(project, httpserver, f'api_key = "{SECRET}"\nauth_header = "x-cg-demo-api-key"\n\n'
                                       '[sources.shop.params]\nvs_currency = "usd"\nper_page = "100"\n')
    project.write_workbook([api_row(table_name="coins", api_endpoint="coins/markets", api_params='{"per_page": 250}')])
    run_ok(project)
    request = requests_to(httpserver, "/api/coins/markets")[0]
    assert dict(request.args) == {"vs_currency": "usd", "per_page": "250"}
    assert request.headers["x-cg-demo-api-key"] == SECRET
    assert project.read_lake("shop", "coins")["id"].to_pylist() == ["bitcoin"]


# --- settings mistakes and connection tests ----------------------------------------------------------------


@pytest.mark.parametrize(("settings", "expected"), [
    pytest.param('auth_type = "basic"\nusername = "analyst"\n', "auth_type basic needs password under [sources.shop]",
                 id="basic-without-password"),
    pytest.param('auth_type = "kerberos"\n',
                 "auth_type 'kerberos' under [sources.shop] is not known: use one of none, api_key, bearer, basic, "
                 "oauth2", id="unknown-auth-type"),
])
def test_incomplete_auth_settings_fail_the_job_with_the_fix(project: Project, httpserver: HTTPServer, settings: str,
                                                           expected: str) -> None:
    configure_api(project, httpserver, settings)
    project.write_workbook([api_row()])
    assert project.ingest("run").exit_code == 1
    assert project.audit_rows()[0]["error_message"] == expected
    assert httpserver.log == []


def test_test_connections_reports_rejected_credentials(project: Project, httpserver: HTTPServer) -> None:
    from dlt_ingest import RunOptions
    from dlt_ingest.engine.connections import check_connections

    good_token = guarded(lambda r: r.headers.get("Authorization") == "Bearer good")
    httpserver.expect_request("/api").respond_with_handler(good_token)
    configure_api(project, httpserver, 'token = "wrong-token"\n')
    project.append_config(f'[sources.other]\nbase_url = "{httpserver.url_for("/api")}"\ntoken = "good"\n',
                          file="secrets.toml")
    project.write_workbook([api_row(), api_row(source_name="other")])
    checks = {c.name: c for c in check_connections(RunOptions())}
    assert (checks["shop"].ok, checks["shop"].detail) == (False, (
        f"credentials rejected by {httpserver.url_for('/api')} (HTTP 401): check the auth settings under the "
        "source's section (see docs/api-sources.md#authentication)"))
    assert (checks["other"].ok, checks["other"].detail) == (True, f"reached {httpserver.url_for('/api')}")


def test_unreachable_base_url_fails_with_cannot_reach(project: Project) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    project.append_config("[ingest]\nretry_attempts = 1\n")
    project.append_config(f'[sources.shop]\nbase_url = "http://127.0.0.1:{port}/api"\n{FAST_RETRIES}',
                          file="secrets.toml")
    project.write_workbook([api_row()])
    assert project.ingest("run").exit_code == 1
    error = project.audit_rows()[0]["error_message"]
    assert error.startswith(f"cannot reach http://127.0.0.1:{port}/api after 3 attempt(s) (ConnectionError")
    assert error.endswith("): check base_url and the network")
