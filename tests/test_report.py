"""HTML run report and `ingest report`: self-contained pages, checked in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

import dlt_ingest
from conftest import Project, service_missing
from dlt_ingest.records.audit import AuditWriter
from observers import ChangeSourceAtNormalize
from services.postgres import PostgresDatabase, fresh_database

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
EXTERNAL = re.compile(r"""(?:src|href)\s*=|<script|<link|@import|url\(""", re.IGNORECASE)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    service_missing("headless Chromium", "apt-get install chromium")


def _browse(page: Path, tmp_path: Path, *action: str, height: int = 1000) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:6]}"
    return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size=1400,{height}",
                           *action, page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=True)


def _assert_self_contained(html: str) -> None:
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert re.findall(r"https?://[^\"' <]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    """A fresh database for this module."""
    with fresh_database(postgres, "report") as database:
        yield database


def test_run_with_a_mismatch_a_failure_and_a_schema_change_is_reported_everywhere(
        project: Project, pg: Any, httpserver: HTTPServer, tmp_path: Path) -> None:
    """The issue's 'done when': audit columns, a notification, the workbook written back, a rendered report."""
    pg.execute("CREATE TABLE shipments (id integer PRIMARY KEY, updated_at timestamptz)",
             "INSERT INTO shipments VALUES (1, '2024-05-01T10:00:00Z'), (2, '2024-05-01T11:00:00Z')")
    project.append_config("\n".join([
        "[sources.pg]", f'host = "{pg.host}"', f"port = {pg.port}", f'database = "{pg.database_name}"',
        f'username = "{pg.user}"', f'password = "{pg.password}"', "[ingest.notifications]",
        f'urls = ["json://127.0.0.1:{httpserver.port}/hook"]']), "secrets.toml")
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    project.write_workbook([
        {"source_type": "postgresql", "source_name": "pg", "table_name": "shipments", "load_type": "INCREMENTAL",
         "watermark_column": "updated_at", "last_watermark": "2024-05-01T00:00:00", "primary_key": "id",
         "enabled": "Y"},
        {"source_type": "sqlite", "source_name": "demo", "table_name": "customers", "load_type": "FULL",
         "enabled": "Y"},
        {"source_type": "sqlite", "source_name": "demo", "table_name": "no_such_table", "load_type": "FULL",
         "enabled": "Y"},
    ])
    assert project.ingest("run").exit_code == 1
    # a new column (a schema change), and a row committed inside the window after the read (a mismatch)
    pg.execute("ALTER TABLE shipments ADD COLUMN carrier text",
               "INSERT INTO shipments VALUES (3, '2024-05-01T11:00:00Z', 'DHL')")
    late = "INSERT INTO shipments VALUES (4, '2024-05-01T11:00:00Z', 'UPS')"
    run = dlt_ingest.run(dlt_ingest.RunOptions(write_back=True), ChangeSourceAtNormalize(pg, "pg.shipments", late))
    assert run.exit_code == 1
    audit = {row["job_name"]: row for row in project.audit_rows()[-3:]}
    shipments = audit["pg.shipments"]
    assert (shipments["schema_changes"], shipments["source_count"], shipments["lake_count"],
            shipments["reconciliation"]) == ("added carrier text", "3", "1", "MISMATCH")
    assert audit["demo.no_such_table"]["status"] == "FAILED"
    assert len(httpserver.log) == 2 and "1 of 3 job(s) FAILED" in httpserver.log[-1][0].get_json()["title"]
    assert "workbook updated: config/ingestion_config.xlsx (3 job(s))" in run.notes

    report = project.path / "metadata" / f"run_{shipments['run_id']}.html"
    assert run.report_file == f"metadata/{report.name}"
    html = report.read_text(encoding="utf-8")
    _assert_self_contained(html)
    dom = _browse(report, tmp_path, "--dump-dom").stdout
    cells = re.findall(r"<tr><td[^>]*>([^<]+)</td><td class=\"(\w+)\"", dom)
    assert cells == [("pg.shipments", "SUCCESS"), ("demo.customers", "SUCCESS"), ("demo.no_such_table", "FAILED")]
    assert "MISMATCH (source 3, lake 1)" in dom and "added carrier text" in dom
    screenshot = tmp_path / "report.png"
    _browse(report, tmp_path, f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000


def _audit_day(writer: AuditWriter, when: datetime, job: str, rows: int, seconds: float, status: str,
               **more: str) -> None:
    writer.write({"timestamp": when.strftime("%Y-%m-%d %H:%M:%S"), "job_name": job, "status": status,
                  "rows_processed": rows, "duration_seconds": seconds, **more}, when)


def test_report_command_renders_rows_and_durations_per_job_per_day(project: Project, tmp_path: Path) -> None:
    writer = AuditWriter(project.path / "metadata")
    today = datetime.now().replace(hour=6)
    for back, rows in ((3, 999), (2, 100), (1, 120), (0, 90)):
        _audit_day(writer, today - timedelta(days=back), "demo.orders", rows, 2.5, "SUCCESS")
    _audit_day(writer, today, "demo.orders", 10, 0.5, "SUCCESS")
    _audit_day(writer, today - timedelta(days=1), "demo.customers", 0, 1.0, "FAILED")
    result = project.ingest("report", "--days", "3")
    assert result.exit_code == 0, result.output
    page = project.path / "metadata" / f"report_{today:%Y%m%d}_3d.html"
    assert result.output == f"Report: metadata/{page.name}\n"
    html = page.read_text(encoding="utf-8")
    _assert_self_contained(html)
    day = [(today - timedelta(days=back)).strftime("%Y-%m-%d") for back in (2, 1, 0)]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">(\d+)</td>"
                      r"<td class=\"num\">([\d,]+)</td><td class=\"num\">([\d.]+)</td><td class=\"(\w+)\">", html)
    assert rows == [
        ("demo.customers", day[1], "1", "0", "1.0", "FAILED"),
        ("demo.orders", day[0], "1", "100", "2.5", "SUCCESS"),
        ("demo.orders", day[1], "1", "120", "2.5", "SUCCESS"),
        ("demo.orders", day[2], "2", "100", "3.0", "SUCCESS"),
    ]
    no_run = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td>(?:<td class=\"num\"></td>){3}<td class=\"no-run\">"
                        r"no run</td>", html)
    assert no_run == [("demo.customers", day[0]), ("demo.customers", day[2])]
    dom = _browse(page, tmp_path, "--dump-dom").stdout
    assert dom.count("<svg") == 4 and "demo.orders" in dom


def test_trend_shows_mismatch_and_no_run_days_and_the_run_timeline_in_a_real_browser(
        project: Project, tmp_path: Path) -> None:
    """Rows and seconds per job per day, a MISMATCH day, a day without a run, two workers in the timeline."""
    writer = AuditWriter(project.path / "metadata")
    today = datetime.now().replace(hour=6, minute=0, second=0, microsecond=0)
    days = [(today - timedelta(days=back)) for back in (3, 2, 1, 0)]
    for index, when in enumerate(days):
        if index == 2:
            continue  # no run on that day
        run = {"run_id": f"run{index}", "worker": "worker 1",
               "started_at": (when - timedelta(seconds=40)).strftime("%Y-%m-%d %H:%M:%S")}
        _audit_day(writer, when, "pg.public.orders", 1000 * (index + 1), 40.0, "SUCCESS",
                   reconciliation="MISMATCH" if index == 1 else "MATCH", **run)
        _audit_day(writer, when - timedelta(seconds=10), "pg.public.customers", 500, 25.0, "SUCCESS",
                   **{**run, "worker": "worker 2",
                      "started_at": (when - timedelta(seconds=35)).strftime("%Y-%m-%d %H:%M:%S")})
        _audit_day(writer, when + timedelta(seconds=5), "shop.items", 20, 5.0, "FAILED" if index == 3 else "SUCCESS",
                   **{**run, "started_at": when.strftime("%Y-%m-%d %H:%M:%S")})  # after orders, on its worker
    result = project.ingest("report", "--days", "4")
    assert result.exit_code == 0, result.output
    page = project.path / "metadata" / f"report_{today:%Y%m%d}_4d.html"
    html = page.read_text(encoding="utf-8")
    _assert_self_contained(html)
    dom = _browse(page, tmp_path, "--dump-dom").stdout
    results = dict(((job, day), state) for job, day, state in re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td>.*?<td class=\"[\w-]+\">([^<]+)</td></tr>", dom))
    stamp = [when.strftime("%Y-%m-%d") for when in days]
    assert [results[("pg.public.orders", day)] for day in stamp] == ["SUCCESS", "MISMATCH", "no run", "SUCCESS"]
    assert results[("shop.items", stamp[3])] == "FAILED"
    assert dom.count(">no run<") == 3 + 3 * 2  # the day without a run: in the table and both charts of each job
    assert not re.search(r"\b0 rows", dom)  # a day without a run is never drawn as 0 rows
    assert dom.count(">Run run3: which job ran when, on which worker<") == 1
    lanes = re.findall(r">(worker \d)</text>", dom)
    assert lanes.count("worker 1") == 3 and lanes.count("worker 2") == 3  # three runs, two lanes each
    bars = re.findall(r"<title>([\w.]+) \((worker \d)\): (\w+), (\d\d:\d\d:\d\d) to (\d\d:\d\d:\d\d)</title>", dom)
    assert bars[:3] == [("pg.public.orders", "worker 1", "SUCCESS", "05:59:20", "06:00:00"),
                        ("pg.public.customers", "worker 2", "SUCCESS", "05:59:25", "05:59:50"),
                        ("shop.items", "worker 1", "FAILED", "06:00:00", "06:00:05")]
    screenshot = tmp_path / "trend.png"
    _browse(page, tmp_path, f"--screenshot={screenshot}", height=2300)  # the whole page, timelines included
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000


@pytest.mark.parametrize(("args", "message"), [
    (("--days", "0"), "Error: --days must be 1 or more, not 0"),
    (("--audit-dir", "nowhere"), "Error: no audit folder at nowhere: run `ingest run` first, or pass --audit-dir"),
])
def test_report_command_rejects_bad_input_in_one_line(project: Project, args: tuple[str, ...], message: str) -> None:
    result = project.ingest("report", *args)
    assert result.exit_code == 2
    assert result.output.strip() == message
