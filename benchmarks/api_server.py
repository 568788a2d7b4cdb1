"""A local paginated JSON API answering every page after a fixed latency, for the --workers comparison."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class SlowApi:
    """`GET /api/items?page=N` -> {"data": [...], "next": url or null} after `latency` seconds."""

    def __init__(self, latency: float, pages: int, page_size: int = 100) -> None:
        self.latency, self.pages, self.page_size = latency, pages, page_size
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = int(parse_qs(urlparse(self.path).query).get("page", ["1"])[0])
                time.sleep(api.latency)
                first = (page - 1) * api.page_size
                rows = [{"id": i, "name": f"item {i}", "price": i * 1.5} for i in range(first, first + api.page_size)]
                more = page < api.pages
                next_url = f"{api.base_url}/items?page={page + 1}" if more else None
                body = json.dumps({"data": rows, "next": next_url}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlowApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
