"""The orchestrator through the CLI: parallel runs with failures, selection, dry runs, status, audit safety."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Project
from dlt_ingest.records.audit import AUDIT_COLUMNS, AuditWriter, neutralise


def _job(source: str, table: str, load_type: str = "FULL", **extra: Any) -> dict[str, Any]:
    return {"source_type": "sqlite", "source_name": source, "table_name": table, "load_type": load_type,
            "enabled": "Y", **extra}


MIXED_JOBS = [
    _job("demo", "orders", "INCREMENTAL", watermark_column="updated_at", primary_key="id"),
    _job("demo", "customers"),
    _job("demo", "products"),
    _job("shop_b", "orders"),
    _job("shop_b", "customers"),
    _job("shop_b", "missing_one"),
    _job("shop_c", "products"),
    _job("shop_c", "missing_two"),
]


@pytest.fixture
def three_sources(project: Project) -> Project:
    for name in ("shop_b", "shop_c"):
        shutil.copy(project.path / "data" / "demo.sqlite", project.path / "data" / f"{name}.sqlite")
        project.append_config(f'[sources.{name}]\ndatabase = "data/{name}.sqlite"')
    project.write_workbook(MIXED_JOBS)
    return project


def test_parallel_run_with_two_failures_records_every_job_and_exits_1(three_sources: Project) -> None:
    project = three_sources
    result = project.ingest("run", "--workers", "4")
    assert result.exit_code == 1, result.output
    assert "Total Jobs: 8" in result.stdout
    assert "Successful: 6" in result.stdout
    assert "Failed: 2" in result.stdout
    assert "  - shop_b.missing_one: table 'missing_one' not found" in result.stdout
    assert "  - shop_c.missing_two: table 'missing_two' not found" in result.stdout
    audit = {r["job_name"]: r for r in project.audit_rows()}
    assert len(audit) == 8
    assert {n for n, r in audit.items() if r["status"] == "FAILED"} == {"shop_b.missing_one", "shop_c.missing_two"}
    assert audit["shop_b.orders"]["rows_processed"] == "3000"
    assert audit["shop_c.products"]["rows_processed"] == "120"
    assert audit["shop_b.missing_one"]["rows_processed"] == "0"
    assert audit["shop_b.missing_one"]["attempts"] == "1"  # a missing table is not worth a retry
    assert len({r["run_id"] for r in audit.values()}) == 1


def test_per_source_logs_hold_only_their_own_records_under_threads(three_sources: Project) -> None:
    project = three_sources
    project.ingest("run", "--workers", "4")
    logs = project.path / "logs"
    for source, own in {"demo": "demo.", "shop_b": "shop_b.", "shop_c": "shop_c."}.items():
        [log_file] = logs.glob(f"source_{source}_*.log")
        text = log_file.read_text(encoding="utf-8")
        assert f"Starting job: {own}" in text
        for other in {"demo.", "shop_b.", "shop_c."} - {own}:
            assert f"Starting job: {other}" not in text
        for line in text.splitlines():
            assert " | " in line[:30] or line.startswith((" ", "Traceback", "\t")) or not line[:4].isdigit()
    [main_log] = logs.glob("main_orchestrator_*.log")
    assert main_log.read_text(encoding="utf-8").count("Starting job:") == 8
    errors = sorted(p.name for p in (logs / "errors").glob("*.log"))
    assert [e.split("_errors_")[0] for e in errors] == ["shop_b", "shop_c"]
    shop_b_errors = (logs / "errors" / errors[0]).read_text(encoding="utf-8")
    assert "[FAILED] Job shop_b.missing_one" in shop_b_errors
    assert "Traceback" in shop_b_errors
    assert "shop_c" not in shop_b_errors


@pytest.mark.parametrize(("args", "expected_jobs"), [
    (["--select", "demo.*"], {"demo.orders", "demo.customers", "demo.products"}),
    (["--select", "*.orders"], {"demo.orders", "shop_b.orders"}),
    (["--select", "source:shop_c"], {"shop_c.products", "shop_c.missing_two"}),
    (["--select", "type:sqlite", "--exclude", "*missing*"],
     {"demo.orders", "demo.customers", "demo.products", "shop_b.orders", "shop_b.customers", "shop_c.products"}),
    (["--exclude", "source:demo", "--exclude", "shop_c.*"], {"shop_b.orders", "shop_b.customers",
                                                             "shop_b.missing_one"}),
])
def test_select_and_exclude_pick_jobs(three_sources: Project, args: list[str], expected_jobs: set[str]) -> None:
    result = three_sources.ingest("run", "--dry-run", *args)
    assert result.exit_code == 0, result.output
    shown = {name for name in (line.split("│")[1].strip() for line in result.stdout.splitlines()
                               if line.startswith("│"))}
    assert shown == expected_jobs


def test_select_that_matches_nothing_is_a_usage_error(three_sources: Project) -> None:
    result = three_sources.ingest("run", "--select", "nope.*")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --select nope.* matches no enabled job (enabled jobs: demo.orders,")


def test_dry_run_prints_the_plan_and_writes_nothing(three_sources: Project) -> None:
    project = three_sources
    result = project.ingest("run", "--dry-run", "--select", "demo.orders", "--select", "demo.products")
    assert result.exit_code == 0
    assert "Dry run: 2 job(s) would run; nothing was connected or written" in result.stdout
    assert "updated_at >= (beginning) (workbook; the lake's state wins if present)" in result.stdout
    assert "/lake/demo/orders/" in result.stdout
    for folder in ("lake", "logs", "metadata", ".dlt/pipelines"):
        assert not (project.path / folder).exists()


def test_dry_run_shows_the_stored_watermark_after_a_run(project: Project) -> None:
    project.write_workbook([MIXED_JOBS[0]])
    assert project.ingest("run").exit_code == 0
    result = project.ingest("run", "--dry-run")
    assert "updated_at >= 2024-02-08 17:26:00 (local state)" in result.stdout


def test_status_shows_the_last_run_of_each_job_and_failed_filter(three_sources: Project) -> None:
    project = three_sources
    project.ingest("run", "--workers", "2")
    result = project.ingest("status")
    assert result.exit_code == 0
    assert "Last run per job (8 job(s))" in result.stdout
    failed = project.ingest("status", "--failed")
    assert "Last run per job (2 job(s))" in failed.stdout
    assert "shop_b.missing_one" in failed.stdout and "demo.orders" not in failed.stdout


def test_status_without_audit_says_what_to_do(project: Project) -> None:
    result = project.ingest("status")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: no audit folder at metadata: run `ingest run` first, or pass --audit-dir"


def test_test_connections_reports_each_source_and_the_lake(three_sources: Project) -> None:
    project = three_sources
    (project.path / "data" / "shop_c.sqlite").unlink()
    result = project.ingest("test-connections")
    assert result.exit_code == 1
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
    assert "OK" in rows["demo"] and "OK" in rows["shop_b"]
    assert "FAILED" in rows["shop_c"]
    assert any("destination" in line and "OK" in line for line in rows.values())
    assert not (project.path / "lake").exists() or not any((project.path / "lake").rglob("_ingest_write_test_*"))


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("plain text", "plain text"),
    (-5, "-5"),
    (None, ""),
    ("two\nlines", "two lines"),
])
def test_audit_cells_are_neutralised_against_formula_injection(value: Any, expected: str) -> None:
    assert neutralise(value) == expected


def test_audit_rows_from_many_threads_never_interleave(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writer = AuditWriter(tmp_path)
    row = {c: f"value-{c}-" + "x" * 200 for c in AUDIT_COLUMNS}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: writer.write(row), range(400)))
    [path] = tmp_path.glob("audit_*.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(AUDIT_COLUMNS)
    assert len(lines) == 401
    assert len(set(lines[1:])) == 1


def test_messages_with_brackets_reach_the_summary_intact(three_sources: Project) -> None:
    project = three_sources
    (project.path / "data" / "shop_c.sqlite").unlink()
    result = project.ingest("run", "--select", "source:shop_c")
    assert result.exit_code == 1
    assert ("  - shop_c.products: sqlite file data/shop_c.sqlite not found: check `database` under "
            "[sources.<source_name>]") in result.stdout


def test_audit_file_of_an_older_version_is_upgraded_to_the_current_columns(tmp_path: Path) -> None:
    old_columns = AUDIT_COLUMNS[:7]
    path = tmp_path / "audit_20260212.csv"
    path.write_text(",".join(old_columns) + "\n2026-02-12 10:15:30,pg.orders,SUCCESS,15234,45.2,orders/2026/02/12,\n",
                    encoding="utf-8")
    from datetime import datetime

    AuditWriter(tmp_path).write({"job_name": "pg.customers", "status": "FAILED"}, datetime(2026, 2, 12, 11))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(AUDIT_COLUMNS)
    assert lines[1].startswith("2026-02-12 10:15:30,pg.orders,SUCCESS,15234,45.2,orders/2026/02/12,,")
    assert ",pg.customers,FAILED," in lines[2]
    assert len(lines) == 3
