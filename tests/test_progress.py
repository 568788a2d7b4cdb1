"""Progress while rows flow, from dlt's own collectors: a heartbeat line in a plain log, a live display on
a real terminal (tmux), and how the newcomer's run reads in both.

The slow job is an API endpoint on 127.0.0.1 whose pages take a while, so the run is seen mid-way.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from conftest import Project, service_missing
from dlt_ingest.workbook.template import DEMO_ROWS
from services.fake_api import json_response
from test_api_source import configure_api

PAGES, PER_PAGE = 4, 50
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| (INFO|WARNING|ERROR) +\| ")


def slow_pages(seconds: float) -> Any:
    def handler(request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        time.sleep(seconds)
        rows = [{"id": (page - 1) * PER_PAGE + i, "name": f"item {i}"} for i in range(PER_PAGE)]
        return json_response({"data": rows, "total_pages": PAGES})
    return handler


def slow_job(project: Project, server: HTTPServer, seconds: float) -> dict[str, Any]:
    server.expect_request("/api/items").respond_with_handler(slow_pages(seconds))
    configure_api(project, server)
    return {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
            "paginator": '{"type": "page_number", "base_page": 1, "total_path": "total_pages"}',
            "load_type": "FULL", "enabled": "Y"}


def test_a_plain_log_gets_a_heartbeat_with_the_rows_so_far(project: Project, httpserver: HTTPServer) -> None:
    project.write_workbook([slow_job(project, httpserver, 0.7), DEMO_ROWS[1]])
    project.append_config("[ingest]\nheartbeat_seconds = 0.4")
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    beats = [line for line in result.stdout.splitlines() if "| Heartbeat: " in line]
    assert beats and all(TIMESTAMPED.match(line) for line in beats)
    counts = [int(m.group(1).replace(",", "")) for m in (re.search(r"running: shop.items ([\d,]+) rows for \d+s", b)
                                                         for b in beats) if m]
    assert counts == sorted(counts)
    assert any(0 < count < PAGES * PER_PAGE for count in counts), beats  # rows counted while they flow
    log = next((project.path / "logs").glob("main_orchestrator_*.log")).read_text(encoding="utf-8")
    assert "Heartbeat: " in log


def test_heartbeat_seconds_0_turns_it_off(project: Project, httpserver: HTTPServer) -> None:
    project.write_workbook([slow_job(project, httpserver, 0.3)])
    project.append_config("[ingest]\nheartbeat_seconds = 0")
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert "Heartbeat" not in result.stdout


def test_the_newcomers_run_reads_clearly_in_a_plain_log(project: Project, httpserver: HTTPServer) -> None:
    rows = [slow_job(project, httpserver, 0.1), *DEMO_ROWS, {**DEMO_ROWS[1], "table_name": "no_such_table"}]
    project.write_workbook(rows)
    result = project.ingest("run")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    summary = lines.index("=== Execution Summary ===")
    assert all(TIMESTAMPED.match(line) for line in lines[:summary - 1]), lines[:summary]
    text = "\n".join(lines[:summary])
    for job in ("shop.items", "demo.orders", "demo.customers", "demo.products"):
        assert re.search(rf"\| SUCCESS: {re.escape(job)} processed [\d,]+ rows in \d+\.\ds", text), job
    assert "[FAILED] Job demo.no_such_table: table 'no_such_table' not found" in text
    assert "Traceback" not in result.output and "dlt.pipeline" not in result.output
    assert lines[summary + 1:summary + 5] == ["Run ID: " + lines[summary + 1].split(": ")[1], "Total Jobs: 5",
                                              "Successful: 4", "Failed: 1"]
    assert max(len(line) for line in lines) < 400


# --- a real terminal -----------------------------------------------------------------------------------------


@pytest.fixture
def tmux() -> Iterator[Any]:
    binary = shutil.which("tmux")
    if binary is None:
        service_missing("tmux", "apt-get install tmux")
    socket = f"ingest-test-{uuid.uuid4().hex[:8]}"

    def run(*args: str) -> str:
        return subprocess.run([binary, "-L", socket, *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout

    yield run
    subprocess.run([binary, "-L", socket, "kill-server"], capture_output=True, timeout=30)


def test_the_newcomers_run_reads_clearly_on_a_terminal(project: Project, httpserver: HTTPServer, tmux: Any) -> None:
    project.write_workbook([slow_job(project, httpserver, 1.0), *DEMO_ROWS,
                            {**DEMO_ROWS[1], "table_name": "no_such_table"}])
    ingest = Path(sys.executable).with_name("ingest")
    env = " ".join(f"{k}={v}" for k, v in os.environ.items() if k in ("PYTHONPATH", "RUNTIME__DLTHUB_TELEMETRY"))
    done = project.path / "done"
    command = f"cd {project.path} && env {env} {ingest} run; echo exit=$? > {done}; sleep 60"
    tmux("new-session", "-d", "-s", "run", "-x", "100", "-y", "40", command)
    screens: list[str] = []
    deadline = time.monotonic() + 120
    while not done.exists() and time.monotonic() < deadline:
        screens.append(tmux("capture-pane", "-p", "-t", "run"))
        time.sleep(0.3)
    final = tmux("capture-pane", "-p", "-t", "run", "-S", "-100")
    assert done.read_text().strip() == "exit=1", final
    live = [s for s in screens if re.search(r"running +shop\.items +[1-9][\d,]* rows +\d+s", s)]
    assert live, "no screen showed the API job's rows while they flowed:\n" + "\n---\n".join(screens[-3:])
    assert re.search(r"Jobs \d/5 done, \d failed, [\d,]+ rows", live[-1])
    lines = [line.rstrip() for line in final.splitlines() if line.strip()]
    assert "OK demo.customers: 500 rows in " in final
    assert "FAILED demo.no_such_table: 0 rows in " in final and "[FAILED] Job" not in final  # said once
    assert re.search(r"OK shop\.items: 200 rows in \d+\.\ds", final)
    assert "=== Execution Summary ===" in lines
    assert not [line for line in lines if " | INFO " in line]  # on a terminal the display replaces info lines
    assert all(len(line) <= 100 for line in lines)
    assert "Traceback" not in final
