"""Credentials never leave base_url's origin: hostile next links, `Link` headers and redirects on 127.0.0.1.

Each API here sends its client to another origin (another port on 127.0.0.1, or plain http from https);
a recording server there logs every byte it gets. The job must fail with one line naming the refused
target, and the other origin must receive nothing: no request, so no credential of any kind.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project
from services.hostile_api import ITEMS, RecordingServer, collector, json_reply, query_of, sending_elsewhere
from services.keyvault import write_self_signed_certificate

FAST = "max_attempts = 2\nbackoff_factor = 0.01\nmax_retry_delay = 1\n"
AUTHS = ["api_key_header", "api_key_authorization", "api_key_query", "bearer", "basic", "oauth2"]
WAYS = ["json_link", "auto", "header_link", "redirect-301", "redirect-302", "redirect-303", "redirect-307",
        "redirect-308", "redirect-after-hop"]
PAGINATOR = {"json_link": "json_link", "header_link": "header_link"}


@pytest.fixture
def servers() -> Iterator[dict[str, RecordingServer]]:
    started: dict[str, RecordingServer] = {}
    yield started
    for server in started.values():
        server.stop()


class Credentials:
    """Unique secret values for one test, the settings that configure them, and every form they take."""

    def __init__(self, auth: str, token_url: str) -> None:
        self.auth = auth
        self.secret = f"canary-{uuid.uuid4().hex}"
        self.access_token = f"issued-{uuid.uuid4().hex}"
        self.settings = {
            "api_key_header": f'api_key = "{self.secret}"\nauth_header = "x-api-key"\n',
            "api_key_authorization": f'api_key = "{self.secret}"\n',
            "api_key_query": f'api_key = "{self.secret}"\nauth_query_param = "api_key"\n',
            "bearer": f'token = "{self.secret}"\n',
            "basic": f'username = "analyst"\npassword = "{self.secret}"\n',
            "oauth2": f'client_id = "ingest-client"\nclient_secret = "{self.secret}"\noauth2_url = "{token_url}"\n',
        }[auth]

    def forms(self) -> list[str]:
        basic = base64.b64encode(f"analyst:{self.secret}".encode()).decode()
        return [self.secret, self.secret[7:30], basic, basic[:-2], self.access_token[7:30]]

    def token_endpoint(self, server: RecordingServer, request: object) -> tuple[int, dict[str, str], bytes]:
        return json_reply({"access_token": self.access_token, "expires_in": 3600})


def configure(project: Project, base_url: str, credentials: Credentials) -> None:
    project.append_config(f'[sources.shop]\nbase_url = "{base_url}"\n{FAST}{credentials.settings}',
                          file="secrets.toml")


def row(way: str) -> dict[str, str]:
    cells = {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
             "load_type": "FULL", "enabled": "Y", "data_selector": "data" if way != "header_link" else ""}
    if way in PAGINATOR:
        cells["paginator"] = PAGINATOR[way]
    return {k: v for k, v in cells.items() if v}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("auth", AUTHS)
def test_another_origin_receives_no_credential_from_any_auth_kind_by_any_link_or_redirect(
        project: Project, servers: dict[str, RecordingServer], auth: str, way: str) -> None:
    hostile = servers["hostile"] = RecordingServer(collector).start()
    token = servers["token"] = RecordingServer(collector).start()
    credentials = Credentials(auth, token.url("/oauth/token"))
    token.respond = credentials.token_endpoint
    api = servers["api"] = RecordingServer(sending_elsewhere(way, hostile.url("/collect?page=2"))).start()
    configure(project, api.url("/api"), credentials)
    project.write_workbook([row(way)])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    error = project.audit_rows()[0]["error_message"]
    what = "a redirect" if way.startswith("redirect") else "a next-page link or absolute URL"
    assert error == (f"refused {what} to {hostile.url('/collect')}: the credentials of [sources.shop] are sent "
                     f"only to {api.origin} (the origin of base_url), so nothing was sent there; check the paginator "
                     f"settings, or ask the API's owner why it points elsewhere "
                     f"(see docs/api-sources.md#credentials-stay-with-their-origin)")
    assert hostile.received == []
    assert api.received, "the API itself was asked"
    assert project.lake_files("shop", "items") == []
    if auth == "oauth2":  # the token endpoint got the client credentials and never the access token
        assert [r.method for r in token.received] == ["POST"]
        assert credentials.access_token not in token.everything_received()
    for form in credentials.forms():
        assert form not in result.output + project.all_output_text()


def test_https_base_url_never_continues_over_plain_http(project: Project, servers: dict[str, RecordingServer],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = write_self_signed_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    plain = servers["plain"] = RecordingServer(collector).start()
    api = servers["api"] = RecordingServer(sending_elsewhere("json_link", plain.url("/api/items?page=2")),
                                           certificate=(cert, key)).start()
    credentials = Credentials("bearer", "")
    configure(project, api.url("/api"), credentials)
    project.write_workbook([row("json_link")])
    assert project.ingest("run").exit_code == 1
    assert project.audit_rows()[0]["error_message"] == (
        f"refused a next-page link or absolute URL to {plain.url('/api/items')}: it would downgrade {api.origin} to "
        f"plain http and send the credentials of [sources.shop] unencrypted; nothing was sent "
        f"(see docs/api-sources.md#credentials-stay-with-their-origin)")
    assert plain.received == []
    assert [r.headers.get("Authorization") for r in api.received] == [f"Bearer {credentials.secret}"]


def test_a_redirect_within_the_origin_is_followed_with_the_credentials(
        project: Project, servers: dict[str, RecordingServer]) -> None:
    def moved(server: RecordingServer, request: object) -> tuple[int, dict[str, str], bytes]:
        assert hasattr(request, "path")
        if request.path.startswith("/api/items?") or request.path == "/api/items":
            return 301, {"Location": "/api/v2/items"}, b""
        return json_reply({"data": ITEMS})

    api = servers["api"] = RecordingServer(moved).start()
    credentials = Credentials("api_key_header", "")
    configure(project, api.url("/api"), credentials)
    project.write_workbook([{**row("auto"), "paginator": "single_page"}])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert [(r.path, r.headers.get("x-api-key")) for r in api.received] == [
        ("/api/items", credentials.secret), ("/api/v2/items", credentials.secret)]
    assert sorted(project.read_lake("shop", "items")["id"].to_pylist()) == [1, 2]


def test_oauth2_token_endpoint_on_its_own_origin_gets_the_client_secret_and_the_api_gets_the_token(
        project: Project, servers: dict[str, RecordingServer]) -> None:
    token = servers["token"] = RecordingServer(collector).start()
    credentials = Credentials("oauth2", token.url("/oauth/token"))
    token.respond = credentials.token_endpoint

    def paged(server: RecordingServer, request: object) -> tuple[int, dict[str, str], bytes]:
        assert hasattr(request, "path")
        if query_of(request).get("page") == "2":
            return json_reply({"data": [{"id": 3, "name": "three"}], "next": None})
        return json_reply({"data": ITEMS, "next": server.url("/api/items?page=2")})

    api = servers["api"] = RecordingServer(paged).start()
    configure(project, api.url("/api"), credentials)
    project.write_workbook([row("json_link")])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert sorted(project.read_lake("shop", "items")["id"].to_pylist()) == [1, 2, 3]
    assert [r.headers.get("Authorization") for r in api.received] == [f"Bearer {credentials.access_token}"] * 2
    assert [r.method for r in token.received] == ["POST"]
    assert f"client_secret={credentials.secret}" in token.received[0].body.decode()
    assert credentials.secret not in api.everything_received()


def test_a_next_link_to_the_token_endpoints_origin_is_refused_too(
        project: Project, servers: dict[str, RecordingServer]) -> None:
    token = servers["token"] = RecordingServer(collector).start()
    credentials = Credentials("oauth2", token.url("/oauth/token"))
    token.respond = credentials.token_endpoint
    api = servers["api"] = RecordingServer(sending_elsewhere("json_link", token.url("/oauth/collect"))).start()
    configure(project, api.url("/api"), credentials)
    project.write_workbook([row("json_link")])
    assert project.ingest("run").exit_code == 1
    assert project.audit_rows()[0]["error_message"].startswith(
        f"refused a next-page link or absolute URL to {token.url('/oauth/collect')}: the credentials of "
        f"[sources.shop] are sent only to {api.origin}")
    assert [r.path for r in token.received] == ["/oauth/token"]
