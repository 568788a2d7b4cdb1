"""A small Databricks workspace on 127.0.0.1 answering the Secrets and SQL Statement Execution APIs the way
the SDK expects.

Secrets: /api/2.0/secrets/get (values base64-encoded), /put, /list, /scopes/create, /scopes/list.
Set `deny_reads = True` to answer 403 PERMISSION_DENIED (a configured store that fails), and
`echo_credentials = True` to put the Authorization header it received into its error messages (a server
that echoes tokens, for the leak tests).

SQL statements: POST /api/2.0/sql/statements, GET /api/2.0/sql/statements/{id} (and .../cancel). Every
statement is recorded in `statements` with its warehouse; `sql_engine` runs it (in the tests a local
Spark session, or a scripted catalog) and returns (column names, rows as text) or raises `SqlFailure`,
which the API reports as a FAILED statement. `pending_polls = N` answers PENDING N times before the result
(a warehouse that is still starting). Only warehouses in `warehouses` exist.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "dapi-fake-workspace-token"
WAREHOUSE = "wh-dlt-ingest-tests"
SqlResult = tuple[list[str], list[list[str | None]]]


class SqlFailure(Exception):
    """What a statement's engine raises for a statement the warehouse would fail (its message is kept)."""


def no_engine(statement: str) -> SqlResult:
    return [], []


@dataclass
class DatabricksWorkspace:
    """The fake workspace's state; `requests` records (method, path) for assertions."""

    scopes: dict[str, dict[str, str]] = field(default_factory=dict)
    deny_reads: bool = False
    echo_credentials: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    statements: list[tuple[str, str]] = field(default_factory=list)  # (warehouse_id, statement)
    sql_engine: Callable[[str], SqlResult] = no_engine
    pending_polls: int = 0
    warehouses: set[str] = field(default_factory=lambda: {WAREHOUSE})
    _results: dict[str, dict[str, Any]] = field(default_factory=dict)
    _polls: dict[str, int] = field(default_factory=dict)

    @property
    def host(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def put(self, scope: str, key: str, value: str) -> None:
        self.scopes.setdefault(scope, {})[key] = value

    def reset(self) -> None:
        self.scopes.clear()
        self.requests.clear()
        self.deny_reads = False
        self.echo_credentials = False
        self.statements.clear()
        self.sql_engine = no_engine
        self.pending_polls = 0
        self.warehouses = {WAREHOUSE}
        self._results.clear()
        self._polls.clear()

    def execute(self, warehouse_id: str, statement: str) -> dict[str, Any]:
        """Run a statement on the engine; the API's answer (a StatementResponse), PENDING while polls remain."""
        self.statements.append((warehouse_id, statement))
        statement_id = uuid.uuid4().hex
        try:
            columns, rows = self.sql_engine(statement)
            answer: dict[str, Any] = {
                "statement_id": statement_id, "status": {"state": "SUCCEEDED"},
                "manifest": {"format": "JSON_ARRAY", "schema": {"column_count": len(columns), "columns": [
                    {"name": name, "position": i, "type_name": "STRING"} for i, name in enumerate(columns)]},
                    "total_row_count": len(rows)},
                "result": {"chunk_index": 0, "row_offset": 0, "row_count": len(rows), "data_array": rows},
            }
        except SqlFailure as exc:
            answer = {"statement_id": statement_id,
                      "status": {"state": "FAILED", "error": {"error_code": "BAD_REQUEST", "message": str(exc)}}}
        self._results[statement_id] = answer
        self._polls[statement_id] = self.pending_polls
        return self.poll(statement_id)

    def poll(self, statement_id: str) -> dict[str, Any]:
        if self._polls.get(statement_id, 0) > 0:
            self._polls[statement_id] -= 1
            return {"statement_id": statement_id, "status": {"state": "PENDING"}}
        return self._results[statement_id]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _handler(state: DatabricksWorkspace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error_code": code, "message": message})

        def _authorized(self) -> bool:
            received = self.headers.get("Authorization") or ""
            if received != f"Bearer {TOKEN}":
                echoed = f" You sent: Authorization: {received}" if state.echo_credentials else ""
                self._error(401, "UNAUTHENTICATED", f"Invalid access token.{echoed}")
                return False
            return True

        def _scope(self, name: str) -> dict[str, str] | None:
            if name not in state.scopes:
                self._error(404, "RESOURCE_DOES_NOT_EXIST", f"Scope {name} does not exist!")
                return None
            return state.scopes[name]

        def do_GET(self) -> None:
            url = urlparse(self.path)
            state.requests.append(("GET", url.path))
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/databricks-config":  # the SDK probes it; a plain workspace has none
                self._error(404, "ENDPOINT_NOT_FOUND", "No host metadata")
                return
            if not self._authorized():
                return
            if url.path == "/api/2.0/secrets/scopes/list":
                self._send(200, {"scopes": [{"name": s, "backend_type": "DATABRICKS"} for s in state.scopes]})
                return
            if url.path.startswith("/api/2.0/sql/statements/"):
                statement_id = url.path.rsplit("/", 1)[-1]
                if statement_id not in state._results:
                    self._error(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {statement_id} not found")
                    return
                self._send(200, state.poll(statement_id))
                return
            if state.deny_reads:
                scope_name = query.get("scope")
                self._error(403, "PERMISSION_DENIED", f"User does not have READ permission on scope {scope_name}")
                return
            scope = self._scope(query.get("scope", ""))
            if scope is None:
                return
            if url.path == "/api/2.0/secrets/get":
                key = query.get("key", "")
                if key not in scope:
                    self._error(404, "RESOURCE_DOES_NOT_EXIST",
                                f"Secret does not exist with scope: {query['scope']} and key: {key}")
                    return
                value = base64.b64encode(scope[key].encode("utf-8")).decode()
                self._send(200, {"key": key, "value": value})
            elif url.path == "/api/2.0/secrets/list":
                self._send(200, {"secrets": [{"key": k, "last_updated_timestamp": 0} for k in sorted(scope)]})
            else:
                self._error(404, "ENDPOINT_NOT_FOUND", f"No API found for 'GET {url.path}'")

        def do_POST(self) -> None:
            url = urlparse(self.path)
            state.requests.append(("POST", url.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self._authorized():
                return
            if url.path == "/api/2.0/sql/statements":
                if body.get("warehouse_id") not in state.warehouses:
                    self._error(404, "RESOURCE_DOES_NOT_EXIST",
                                f"SQL warehouse {body.get('warehouse_id')} does not exist.")
                    return
                self._send(200, state.execute(body["warehouse_id"], body["statement"]))
            elif url.path.startswith("/api/2.0/sql/statements/") and url.path.endswith("/cancel"):
                self._send(200, {})
            elif url.path == "/api/2.0/secrets/scopes/create":
                if body["scope"] in state.scopes:
                    self._error(400, "RESOURCE_ALREADY_EXISTS", f"Scope {body['scope']} already exists!")
                    return
                state.scopes[body["scope"]] = {}
                self._send(200, {})
            elif url.path == "/api/2.0/secrets/put":
                scope = self._scope(body["scope"])
                if scope is None:
                    return
                scope[body["key"]] = body["string_value"]
                self._send(200, {})
            else:
                self._error(404, "ENDPOINT_NOT_FOUND", f"No API found for 'POST {url.path}'")

    return Handler


def start_databricks_workspace() -> DatabricksWorkspace:
    state = DatabricksWorkspace()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.server = server
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-databricks").start()
    return state
