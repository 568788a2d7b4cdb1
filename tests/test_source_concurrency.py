"""The per-source cap, observed from the server side: a threaded HTTP API counting requests in flight."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import Project

LATENCY_SECONDS = 0.6


class InFlightCounter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.peak_total = 0

    def enter(self, source: str) -> None:
        with self.lock:
            self.now[source] += 1
            self.peak[source] = max(self.peak[source], self.now[source])
            self.peak_total = max(self.peak_total, sum(self.now.values()))

    def leave(self, source: str) -> None:
        with self.lock:
            self.now[source] -= 1


@pytest.fixture
def slow_api() -> Iterator[tuple[str, InFlightCounter]]:
    counter = InFlightCounter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            source = self.path.strip("/").split("/")[0]
            counter.enter(source)
            try:
                time.sleep(LATENCY_SECONDS)
                body = json.dumps([{"id": 1, "source": source}]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                counter.leave(source)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", counter
    server.shutdown()


def test_never_more_than_the_cap_of_concurrent_jobs_hit_one_source(
    project: Project, slow_api: tuple[str, InFlightCounter]
) -> None:
    base, counter = slow_api
    rows = []
    for source in ("api_a", "api_b"):
        project.append_config(f'[sources.{source}]\nbase_url = "{base}/{source}"', "secrets.toml")
        rows += [{"source_type": "api", "source_name": source, "table_name": f"t{i}", "api_endpoint": f"t{i}",
                  "paginator": "single_page", "load_type": "FULL", "enabled": "Y"} for i in range(4)]
    project.append_config("[ingest]\nmax_jobs_per_source = 2")
    project.write_workbook(rows)
    result = project.ingest("run", "--workers", "4")
    assert result.exit_code == 0, result.output
    assert counter.peak["api_a"] <= 2 and counter.peak["api_b"] <= 2
    assert counter.peak_total >= 2  # the pool really ran jobs side by side
