"""Run notifications through Apprise, received by a real local SMTP server (aiosmtpd) and HTTP webhook."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS

TOKEN = "hook-token-0123456789abcdef"
SMTP_PASSWORD = "smtp-pa$$word-42"
BROKEN_ROW = {"source_type": "sqlite", "source_name": "demo", "table_name": "no_such_table", "load_type": "FULL",
              "enabled": "Y"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # the name aiosmtpd calls
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=ingest@example.com&to=data-team@example.com"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox(_free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: Mailbox) -> Mailbox:
    smtp_server.messages.clear()
    return smtp_server


def _body(message: Message) -> str:
    parts = [p.get_payload(decode=True) for p in message.walk() if not p.is_multipart()]
    return "".join(bytes(p).decode("utf-8") for p in parts if isinstance(p, bytes)).replace("\r\n", "\n")


def _configure(project: Project, urls: list[str], on: str = "failure") -> None:
    project.append_config(f"[ingest.notifications]\nurls = {json.dumps(urls)}\non = \"{on}\"", "secrets.toml")


def _webhook(httpserver: HTTPServer) -> str:
    httpserver.expect_request(f"/hooks/{TOKEN}", method="POST").respond_with_data("ok")
    return f"json://127.0.0.1:{httpserver.port}/hooks/{TOKEN}"


def test_failed_run_is_notified_by_mail_and_webhook_with_reasons_and_where_to_look(
        project: Project, mailbox: Mailbox, httpserver: HTTPServer) -> None:
    project.write_workbook([DEMO_ROWS[1], BROKEN_ROW])
    _configure(project, [mailbox.url(), _webhook(httpserver)])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    run_id = project.audit_rows()[-1]["run_id"]
    (mail,) = mailbox.messages
    assert mail["Subject"] == f"dlt-ingest run {run_id}: 1 of 2 job(s) FAILED"
    (request, _), = httpserver.log
    posted = request.get_json()
    assert posted["title"] == mail["Subject"]
    body = _body(mail)
    assert posted["message"].replace("\r\n", "\n").strip() == body.strip()
    assert ("Failed jobs:\n- demo.no_such_table: FAILED: table 'no_such_table' not found in "
            "the connection's default schema of sqlite file data/demo.sqlite: check table_name and schema_name "
            "(names are case-sensitive when quoted).\n") in body
    assert f"- audit: metadata/audit_{run_id[:8]}.csv\n" in body
    assert f"- report: metadata/run_{run_id}.html" in body
    assert "- run log: logs/" in body and "- error logs: logs/errors/" in body
    assert "Note: notification sent to 2 target(s)" in result.output
    assert TOKEN not in result.output + body + project.all_output_text()


@pytest.mark.parametrize(("on", "sent"), [("failure", 0), ("always", 1)])
def test_successful_run_is_notified_only_when_asked_for_every_run(
        project: Project, httpserver: HTTPServer, on: str, sent: int) -> None:
    project.write_workbook([DEMO_ROWS[1]])
    _configure(project, [_webhook(httpserver)], on=on)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert len(httpserver.log) == sent
    if sent:
        run_id = project.audit_rows()[-1]["run_id"]
        assert httpserver.log[0][0].get_json()["title"] == f"dlt-ingest run {run_id}: all 1 job(s) succeeded"


def test_unreachable_target_is_a_warning_and_never_fails_the_run(project: Project, mailbox: Mailbox) -> None:
    project.write_workbook([DEMO_ROWS[1], BROKEN_ROW])
    closed = f"json://127.0.0.1:{_free_port()}/hooks/{TOKEN}"
    _configure(project, [closed, "not-a-url", mailbox.url()])
    result = project.ingest("run")
    assert result.exit_code == 1  # the failed job, not the notification
    assert "Note: notification not delivered to every target (2 valid URL(s)); see the run log" in result.output
    assert len(mailbox.messages) == 1  # the reachable target still got it
    logs = project.all_output_text()
    assert "notification URL(s) #2 under [ingest.notifications] urls are not valid Apprise URLs" in logs
    assert TOKEN not in result.output + logs


def test_password_in_a_mail_url_never_reaches_output(project: Project, mailbox: Mailbox) -> None:
    project.write_workbook([BROKEN_ROW])
    url = f"mailto://ingest:{SMTP_PASSWORD}@127.0.0.1:{_free_port()}?from=ingest@example.com&to=x@example.com"
    _configure(project, [url])
    result = project.ingest("run")
    assert result.exit_code == 1
    assert "Note: notification not delivered" in result.output
    assert SMTP_PASSWORD not in result.output + project.all_output_text()


def test_unknown_trigger_is_reported_and_the_run_goes_on(project: Project, httpserver: HTTPServer) -> None:
    project.write_workbook([DEMO_ROWS[1]])
    _configure(project, [_webhook(httpserver)], on="sometimes")
    result = project.ingest("run")
    assert result.exit_code == 0
    assert ("Note: notification failed: [ingest.notifications] on = 'sometimes' is not one of "
            "failure, always: fix it in .dlt/config.toml") in result.output
