"""No secret ever leaves the process: a whole `ingest run` with unique canary secrets, then a byte search."""

from __future__ import annotations

import uuid
from typing import Any

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from services.postgres import free_port


def test_canary_secrets_appear_in_no_log_audit_lake_state_or_console(project: Project, postgres: Any) -> None:
    canary = f"canary-{uuid.uuid4().hex}-p@ss:w/rd%#$"
    api_canary = f"canary-{uuid.uuid4().hex}-k@y/+="
    project.append_config(
        f'[sources.pgcanary]\nhost = "{postgres.host}"\nport = {postgres.port}\ndatabase = "postgres"\n'
        f'username = "{postgres.user}"\npassword = "{canary}"\n', file="secrets.toml")
    # an API key sent as a query parameter to a closed port: the driver's error message carries the URL
    project.append_config(
        f'[sources.apicanary]\nbase_url = "http://127.0.0.1:{free_port()}/"\napi_key = "{api_canary}"\n'
        'auth_query_param = "api_key"\nmax_attempts = 1\ntimeout = 5\n', file="secrets.toml")
    rows = [dict(DEMO_ROWS[2]),
            {"source_type": "postgresql", "source_name": "pgcanary", "table_name": "orders",
             "schema_name": "public", "load_type": "FULL", "enabled": True},
            {"source_type": "api", "source_name": "apicanary", "table_name": "coins", "api_endpoint": "coins",
             "load_type": "FULL", "enabled": True}]
    project.write_workbook(rows)
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    assert "Successful: 1" in result.stdout and "Failed: 2" in result.stdout
    errors = {r["job_name"]: r["error_message"] for r in project.audit_rows() if r["status"] == "FAILED"}
    assert "password authentication failed" in errors["pgcanary.public.orders"]
    assert "api_key=***" in errors["apicanary.coins"]
    written = project.all_output_text() + result.output
    for secret in (canary, api_canary):
        assert secret[:39] not in written  # the unique part: catches the raw value and every encoded form
