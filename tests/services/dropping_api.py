"""A paged JSON API on 127.0.0.1 (threaded http.server) that can drop the connection in the middle of a page.

`drop_page = N` makes every request for page N send its headers and half of its body, then close the
socket: what a client sees when a load balancer or the server dies mid-response.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from services.threaded_http import serve, shutdown


@dataclass
class DroppingApi:
    records: Any = 9  # a count, turned into records by start()
    per_page: int = 2
    drop_page: int | None = None
    on_request: Callable[[], None] | None = None  # called before answering (e.g. to stop the lake)
    dropped: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> DroppingApi:
        self.records = [{"id": i, "name": f"item {i}", "updated_at": f"2026-01-{i:02d}T00:00:00Z"}
                        for i in range(1, int(self.records) + 1)]
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                api.requests.append(query)
                if api.on_request is not None:
                    api.on_request()
                since = query.get("updated_since", "")
                rows = [r for r in api.records if r["updated_at"] >= since]
                page = int(query.get("page", "1"))
                body = json.dumps({"data": rows[(page - 1) * api.per_page: page * api.per_page],
                                   "total_pages": -(-len(rows) // api.per_page)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if page == api.drop_page:
                    api.dropped += 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        shutdown(self._server)

    def cursors_sent(self) -> list[str | None]:
        """The `updated_since` of each first-page request (one per run)."""
        return [r.get("updated_since") for r in self.requests if r.get("page", "1") == "1"]
