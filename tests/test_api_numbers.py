"""Numbers in API records: those no lake type holds fail the job naming the field; the 64-bit extremes land
exactly. A real HTTP server on 127.0.0.1 (pytest-httpserver), through the CLI."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pytest_httpserver import HTTPServer

from conftest import Project
from test_api_source import api_row, configure_api, run_ok


@pytest.mark.parametrize(("body", "field", "what"), [
    pytest.param('[{"id": 1, "big": 123456789012345678901234567890}]', "field big of record 1",
                 "an integer of 30 digits, outside the 64-bit integer range", id="integer-of-30-digits"),
    pytest.param('[{"id": 1, "big": 9223372036854775808}]', "field big of record 1", "outside the 64-bit integer",
                 id="2**63"),
    pytest.param('[{"id": 1, "f": 1}, {"id": 2, "f": 1e400}]', "field f of record 2", "not finite", id="1e400"),
    pytest.param('[{"id": 1, "f": -1e400}]', "field f of record 1", "not finite", id="minus-1e400"),
    pytest.param('[{"id": 1, "tags": [{"w": 1}, {"w": -99999999999999999999}]}]', "field tags[1].w of record 1",
                 "outside the 64-bit integer range", id="nested-in-a-list"),
])
def test_a_number_no_lake_type_holds_fails_the_job_naming_the_field(
        project: Project, httpserver: HTTPServer, body: str, field: str, what: str) -> None:
    """dlt failed the first naming no field and dropped 1e400 without a word (its column got no value)."""
    httpserver.expect_request("/api/items").respond_with_data(body, content_type="application/json")
    configure_api(project, httpserver)
    project.write_workbook([api_row()])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    error = project.audit_rows()[-1]["error_message"]
    assert field in error and what in error and "send it as a string" in error, error
    assert not (project.path / "lake" / "shop" / "items").exists()
    assert "Traceback" not in result.output


def test_the_extremes_of_64_bit_integers_land_exactly(project: Project, httpserver: HTTPServer) -> None:
    body = '[{"id": 1, "n": 9223372036854775807}, {"id": 2, "n": -9223372036854775808}]'
    httpserver.expect_request("/api/items").respond_with_data(body, content_type="application/json")
    configure_api(project, httpserver)
    project.write_workbook([api_row()])
    run_ok(project)
    lake = project.read_lake("shop", "items").sort_by("id")
    assert lake["n"].to_pylist() == [2**63 - 1, -(2**63)] and lake.schema.field("n").type == pa.int64()
