"""No secret ever leaves the process: whole `ingest` runs with unique canary secrets, then a byte search of
every file and stream they wrote (logs, audit, HTML report, dlt's trace and state, the console), for every
spelling of the secret: raw, URL-encoded, JSON-escaped, base64 alone and inside a basic-auth header."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from services.hostile_api import RecordingServer, echoing
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


# --- every encoding, every echo ------------------------------------------------------------------------------


def encoded_forms(secret: str, username: str = "analyst") -> dict[str, str]:
    """The spellings of `secret` that could leak: raw, URL-encoded, JSON-escaped, base64 alone and inside a
    basic-auth header (padded or not, standard or URL-safe alphabet)."""
    basic = base64.b64encode(f"{username}:{secret}".encode()).decode()
    alone = base64.b64encode(secret.encode()).decode()
    return {"raw": secret, "url": quote(secret, safe=""), "url-plus": quote_plus(secret),
            "url-lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
            "json": json.dumps(secret)[1:-1], "basic": basic, "basic-unpadded": basic.rstrip("="),
            "basic-urlsafe": base64.urlsafe_b64encode(f"{username}:{secret}".encode()).decode(),
            "base64": alone, "base64-unpadded": alone.rstrip("=")}


def assert_no_form_in(text: str, secret: str) -> None:
    found = {name: form for name, form in encoded_forms(secret).items() if form[4:-4] in text}
    assert found == {}, found


AUTH_SETTINGS = {
    "basic": 'username = "analyst"\npassword = "{secret}"\n',
    "bearer": 'token = "{secret}"\n',
    "api_key_header": 'api_key = "{secret}"\nauth_header = "x-api-key"\n',
    "api_key_query": 'api_key = "{secret}"\nauth_query_param = "api_key"\n',
}


def new_canary() -> str:
    return f"canary-{uuid.uuid4().hex}-p@ss/w+rd=&%"


@pytest.mark.parametrize("echo", ["error-page", "json-error", "not-json"])
@pytest.mark.parametrize("auth", sorted(AUTH_SETTINGS))
def test_echoed_credentials_reach_no_file_or_stream_in_any_encoding(project: Project, auth: str, echo: str) -> None:
    secret = new_canary()
    api = RecordingServer(echoing(echo)).start()
    try:
        project.append_config(f'[sources.shop]\nbase_url = "{api.url("/api")}"\nmax_attempts = 2\n'
                              f'backoff_factor = 0.01\n' + AUTH_SETTINGS[auth].format(secret=secret),
                              file="secrets.toml")
        project.write_workbook([{"source_type": "api", "source_name": "shop", "table_name": "items",
                                 "api_endpoint": "items", "data_selector": "data", "load_type": "FULL",
                                 "enabled": "Y"}])
        result = project.ingest("run")
    finally:
        api.stop()
    assert result.exit_code == 1, result.output
    echoed = api.received[-1].text()
    assert any(form in echoed for form in encoded_forms(secret).values())  # the server did get (and echo) it
    error = project.audit_rows()[0]["error_message"]
    assert "***" in error, error  # the echo is in the message, masked
    for kind in ("logs", "metadata", ".dlt/pipelines"):
        assert any((project.path / kind).rglob("*")), kind  # every output this test checks was written
    assert_no_form_in(result.output + project.all_output_text(), secret)


DEBUG_API_ROW = {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
                 "data_selector": "data", "load_type": "FULL", "enabled": "Y"}


def _ingest_process(project: Project, *args: str, env: dict[str, str] | None = None
                    ) -> subprocess.CompletedProcess[str]:
    """`ingest ARGS` in its own process (a --debug handler lives as long as its process)."""
    environment = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", **(env or {})}
    return subprocess.run([sys.executable, "-m", "dlt_ingest", *args], cwd=project.path, capture_output=True,
                          text=True, timeout=300, env=environment)


def test_debug_output_of_urllib3_requests_and_dlt_is_redacted(project: Project) -> None:
    secret = new_canary()
    api = RecordingServer(echoing("error-page")).start()
    try:
        project.append_config(f'[sources.shop]\nbase_url = "{api.url("/api")}"\nmax_attempts = 1\n'
                              + AUTH_SETTINGS["api_key_query"].format(secret=secret), file="secrets.toml")
        project.write_workbook([DEBUG_API_ROW])
        done = _ingest_process(project, "--debug", "run", env={"RUNTIME__LOG_LEVEL": "DEBUG"})
    finally:
        api.stop()
    assert done.returncode == 1, done.stderr[-3000:]
    assert "urllib3.connectionpool DEBUG" in done.stderr and "/api/items?" in done.stderr  # the request lines
    assert "api_key=***" in done.stderr
    assert_no_form_in(done.stdout + done.stderr + project.all_output_text(), secret)


def test_debug_output_of_the_databricks_sdk_is_redacted_even_when_the_workspace_echoes_the_token(
        project: Project) -> None:
    from secret_stores import shared_workspace

    workspace = shared_workspace()
    workspace.reset()
    workspace.echo_credentials = True
    token = f"dapi{uuid.uuid4().hex}"
    project.write_workbook([dict(DEMO_ROWS[0])])
    try:
        done = _ingest_process(project, "--debug", "validate-config", "--check-secrets",
                               env={"DATABRICKS_HOST": workspace.host, "DATABRICKS_TOKEN": token,
                                    "DATABRICKS_DEBUG_HEADERS": "true", "DATABRICKS_DEBUG_TRUNCATE_BYTES": "100000"})
    finally:
        workspace.reset()
    assert done.returncode == 2, done.stderr[-3000:]
    assert "databricks.sdk DEBUG" in done.stderr and "Authorization: ***" in done.stderr
    assert "You sent: Authorization: ***" in done.stderr  # the echo itself, masked in the SDK's error
    assert_no_form_in(done.stdout + done.stderr, token)


@pytest.mark.slow
def test_debug_output_of_the_azure_sdk_is_redacted(project: Project, azurite: Any) -> None:
    from lake_backends import AzuriteLake

    AzuriteLake(project, azurite, "az")
    project.write_workbook([dict(DEMO_ROWS[2])])
    done = _ingest_process(project, "--debug", "run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "azure.core.pipeline.policies.http_logging_policy" in done.stderr
    assert_no_form_in(done.stdout + done.stderr + project.all_output_text(), azurite.key)


def _cell(column: str, row: int) -> str:
    from openpyxl.utils import get_column_letter

    from dlt_ingest.workbook.columns import COLUMNS

    return f"SourceConfig!{get_column_letter([c.name for c in COLUMNS].index(column) + 1)}{row}"


def test_credentials_typed_into_workbook_cells_are_refused_and_never_echoed(project: Project) -> None:
    key, password, other = new_canary(), f"pw{uuid.uuid4().hex}", f"cs{uuid.uuid4().hex}"
    project.write_workbook([
        {**DEBUG_API_ROW, "api_params": json.dumps({"per_page": 10, "api_key": key})},
        {**dict(DEMO_ROWS[0]), "schema_name": f"postgresql://admin:{password}@db.example.com:5432/sales"},
        {**dict(DEMO_ROWS[1]), "table_name": f"Server=tcp:x.database.windows.net;Password={other};User ID=a"},
    ])
    checked = project.ingest("validate-config")
    ran = project.ingest("run")
    assert (checked.exit_code, ran.exit_code) == (2, 2)
    lines = checked.stderr.strip().splitlines()
    assert lines[0].startswith(f"{_cell('api_params', 2)} api_params: holds a credential (the parameter 'api_key'): "
                               "remove it")
    assert "Put it in .dlt/secrets.toml under [sources.shop] or in a vault (see docs/secrets.md)" in lines[0]
    assert lines[1].startswith(f"{_cell('schema_name', 3)} schema_name: holds a credential (a password in a URL")
    assert lines[2].startswith(f"{_cell('table_name', 4)} table_name: holds a credential (Password= of a connection "
                               "string)")
    for secret in (key, password, other):
        assert_no_form_in(checked.output + ran.output + project.all_output_text(), secret)
    assert not any((project.path / d).exists() for d in ("lake", "logs", "metadata"))
