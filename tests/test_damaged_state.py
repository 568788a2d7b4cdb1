"""A stored state in the lake that is no longer JSON (a truncated upload, a hand edit) fails only its own job,
with the file to remove named, moves no cursor and writes nothing; once it is removed the next run resumes
from the state before it and the lake's live rows equal the source."""

from __future__ import annotations

import shutil
import sqlite3

from conftest import Project
from demo_changes import add_new_orders
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import LocalLake, local_dlt_folders


def _source_ids(project: Project) -> set[int]:
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        return {row[0] for row in connection.execute("SELECT id FROM orders")}


def test_a_damaged_stored_state_fails_its_job_naming_the_file_and_the_next_run_recovers(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    assert project.ingest("run").exit_code == 0
    add_new_orders(project.path / "data" / "demo.sqlite", 25, "2030-01-01 00:00:00")
    for folder in local_dlt_folders(project):
        shutil.rmtree(folder)  # a fresh job cluster: the state must come from the lake
    states = project.path / "lake" / "demo" / "_dlt_pipeline_state"
    newest = max(states.glob("ingest_demo_orders__*.jsonl"), key=lambda p: float(p.name.split("__")[1]))
    newest.write_text('{"pipeline_name": "ingest_demo_or', encoding="utf-8")  # cut short
    lake_before = sorted(p.name for p in (project.path / "lake" / "demo" / "orders").rglob("*.parquet"))

    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    rows = {row["job_name"]: row for row in project.audit_rows()[len(DEMO_ROWS):]}
    failed = rows["demo.orders"]
    assert failed["status"] == "FAILED" and failed["watermark_end"] == ""
    assert failed["error_message"].startswith(
        "a stored state or schema of pipeline ingest_demo_orders in the lake is damaged (JSONDecodeError")
    assert "remove the newest demo/_dlt_pipeline_state/ingest_demo_orders__*.jsonl" in failed["error_message"]
    assert {rows[name]["status"] for name in rows if name != "demo.orders"} == {"SUCCESS"}
    assert sorted(p.name for p in (project.path / "lake" / "demo" / "orders").rglob("*.parquet")) == lake_before
    assert "Traceback" not in result.output

    newest.unlink()
    again = project.ingest("run", "--select", "demo.orders")
    assert again.exit_code == 0, again.output
    assert set(LocalLake(project).read("demo", "orders")["id"].to_pylist()) == _source_ids(project)
