"""Servers on 127.0.0.1 for the origin tests: a collector that records every byte it is sent, and an API
that sends its client elsewhere (a next link, a `Link` header, a 30x redirect) or echoes what it got.

The collector answers like a friendly API (`{"data": [...]}`, one page) so a client that follows it would
carry on; the tests assert it received nothing at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from services.threaded_http import serve, shutdown

Reply = tuple[int, dict[str, str], bytes]
ITEMS = [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]
MORE = [{"id": 3, "name": "three"}]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """Everything the request carried, as one text (headers, path with query, body)."""
        lines = [f"{self.method} {self.path}", *(f"{k}: {v}" for k, v in self.headers.items())]
        return "\n".join(lines) + "\n" + self.body.decode("utf-8", errors="replace")


@dataclass
class RecordingServer:
    """A threaded HTTP(S) server that records every request and answers with `respond`."""

    respond: Callable[[RecordingServer, Received], Reply]
    received: list[Received] = field(default_factory=list)
    certificate: tuple[Path, Path] | None = None  # (cert, key) for https
    _server: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        assert self._server is not None
        scheme = "https" if self.certificate else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.origin + path

    def start(self) -> RecordingServer:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                state.received.append(request)
                status, headers, body = state.respond(state, request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = _handle

        self._server = serve(Handler, self.certificate)
        return self

    def stop(self) -> None:
        shutdown(self._server)

    def everything_received(self) -> str:
        return "\n".join(r.text() for r in self.received)


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


def collector(server: RecordingServer, request: Received) -> Reply:
    """What a credential collector would answer: a plausible last page."""
    return json_reply({"data": MORE, "next": None})


def query_of(request: Received) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(request.path).query).items()}


def sending_elsewhere(how: str, elsewhere: str) -> Callable[[RecordingServer, Received], Reply]:
    """An API whose first page points to `elsewhere` (a full URL) in the way `how` names:

    `json_link` / `auto`: `"next": <url>` in the body; `header_link`: a `Link: <url>; rel="next"` header;
    `redirect-30x`: the first request itself answered with that status and `Location: <url>`;
    `redirect-after-hop`: a same-origin 302 first, then a 307 to `elsewhere`.
    """
    def respond(server: RecordingServer, request: Received) -> Reply:
        path = urlparse(request.path).path
        if how.startswith("redirect-3"):
            return int(how.rsplit("-", 1)[1]), {"Location": elsewhere}, b""
        if how == "redirect-after-hop":
            if path.endswith("/items"):
                return 302, {"Location": server.url("/api/items-moved")}, b""
            return 307, {"Location": elsewhere}, b""
        if how == "header_link":
            return json_reply(ITEMS, headers={"Link": f'<{elsewhere}>; rel="next"'})
        return json_reply({"data": ITEMS, "next": elsewhere})
    return respond


def echoing(kind: str) -> Callable[[RecordingServer, Received], Reply]:
    """An API whose second page echoes every header and the query string it received back in its answer:
    `error-page` (HTTP 500, HTML), `json-error` (HTTP 400, a JSON error object) or `not-json` (HTTP 200,
    plain text). The first page is ordinary records with a same-origin next link."""
    def respond(server: RecordingServer, request: Received) -> Reply:
        if query_of(request).get("page") != "2":
            return json_reply({"data": ITEMS, "next": server.url("/api/items?page=2")})
        first = sorted(request.headers.items(), key=lambda item: item[0].lower() not in ("authorization", "x-api-key"))
        echo = f"query {urlparse(request.path).query}; " + "; ".join(f"{k}: {v}" for k, v in first)
        if kind == "json-error":
            return json_reply({"error": {"message": f"request refused, it carried {echo}"}}, status=400)
        if kind == "not-json":
            return 200, {"Content-Type": "text/plain"}, f"you sent {echo}".encode()
        return 500, {"Content-Type": "text/html"}, f"<html><body>failed for {echo}</body></html>".encode()
    return respond
