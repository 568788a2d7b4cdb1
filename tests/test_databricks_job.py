"""The Databricks job entry (`ingest-job`) run the way a job cluster runs it (tests/databricks_cluster.py).

Each run is on a fresh cluster whose disk is wiped afterwards; the credentials, the lake URL and its
connection come from the secret scope of the local Databricks API server, the lake, the logs and the
audit live in Azurite. Only the lake remembers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from databricks_cluster import INGEST_JOB, ClusterRun, Workspace, create_workspace, run_on_new_cluster
from demo_changes import add_new_orders
from dlt_ingest.records.staging import StagedFolder
from dlt_ingest.workbook.template import DEMO_ROWS
from secret_stores import shared_workspace

ORDERS = DEMO_ROWS[0]
GHOST = {"source_type": "sqlite", "source_name": "demo", "table_name": "ghost", "load_type": "FULL", "enabled": "Y"}
DAY_1, DAY_2 = "2026-03-01T02:00:00Z", "2026-03-02T02:00:00Z"


@pytest.fixture
def databricks(tmp_path: Path, azurite: Any) -> Iterator[Workspace]:
    yield create_workspace(tmp_path, azurite, [ORDERS, GHOST])
    shared_workspace().reset()


def run_on_fresh_cluster(workspace: Workspace, day: str, name: str, log_dir: str | None = None) -> ClusterRun:
    """One `ingest-job` run on a new cluster, loading as of `day`."""
    args = [str(INGEST_JOB), "--config", str(workspace.workbook),
            "--log-dir", log_dir or workspace.bucket("logs"), "--audit-dir", workspace.bucket("metadata")]
    return run_on_new_cluster(workspace.root, name, args, {"DESTINATION__FILESYSTEM__CURRENT_DATETIME": day})


def test_two_cluster_runs_load_exactly_once_and_keep_logs_and_audit_in_the_bucket(
        databricks: Workspace, azurite: Any) -> None:
    first = run_on_fresh_cluster(databricks, DAY_1, "cluster-1")
    assert first.code == 1, first.stdout + first.stderr  # the ghost table does not exist yet
    assert "[FAILED] Job demo.ghost" in first.stdout
    assert first.stdout.splitlines()[-1] == (
        "ingest-job: run failed with exit code 1 (1 = a job failed, 2 = configuration error)")
    assert all(p.startswith("tmp/dlt-ingest/pipelines/") for p in first.local_disk), first.local_disk

    add_new_orders(databricks.database, 25, "2030-01-01 00:00:00")
    with sqlite3.connect(databricks.database) as connection:
        connection.execute("CREATE TABLE ghost (id INTEGER PRIMARY KEY, label TEXT)")
        connection.executemany("INSERT INTO ghost VALUES (?, ?)", [(1, "a"), (2, "b")])

    second = run_on_fresh_cluster(databricks, DAY_2, "cluster-2")
    assert second.code == 0, second.stdout + second.stderr
    assert "demo: credentials from Databricks secrets (scope dlt-framework)" in second.stdout

    audit = [(r["job_name"], r["status"], r["rows_processed"], r["partition_path"]) for r in databricks.audit()]
    assert audit == [
        ("demo.orders", "SUCCESS", "3000", "demo/orders/2026/03/01"),
        ("demo.ghost", "FAILED", "0", ""),
        ("demo.orders", "SUCCESS", "25", "demo/orders/2026/03/02"),
        ("demo.ghost", "SUCCESS", "2", "demo/ghost/2026/03/02"),
    ]
    orders = databricks.lake("orders")
    assert orders.num_rows == 3025 and len(set(orders["id"].to_pylist())) == 3025
    logs = databricks.files("logs")
    assert len([n for n in logs if n.startswith("main_orchestrator_")]) == 2
    assert len([n for n in logs if n.startswith("source_demo_")]) == 2
    errors = [n for n in logs if n.startswith("errors/")]
    assert len(errors) == 1 and "Job demo.ghost" in databricks.text("logs", errors[0])
    assert azurite.key not in first.stdout + first.stderr + second.stdout + second.stderr


def test_bad_configuration_fails_the_task_with_exit_2_and_names_the_fix(databricks: Workspace) -> None:
    run = run_on_fresh_cluster(databricks, DAY_1, "cluster", log_dir="dbfs:/ingest/logs")
    assert run.code == 2
    assert run.stderr.strip() == (
        "Error: --log-dir dbfs:/ingest/logs: Python writes DBFS through its mount; use --log-dir /dbfs/ingest/logs")
    assert run.stdout.splitlines()[-1] == (
        "ingest-job: run failed with exit code 2 (1 = a job failed, 2 = configuration error)")
    assert databricks.audit() == []


@pytest.mark.parametrize(("existing", "staged", "merged"), [
    (None, "a,b\n1,2\n", "a,b\n1,2\n"),
    ("a,b\n1,2\n", "a,b\n3,4\n", "a,b\n1,2\n3,4\n"),
])
def test_publishing_appends_to_an_existing_audit_file_without_a_second_header(
        tmp_path: Path, existing: str | None, staged: str, merged: str) -> None:
    durable, local = tmp_path / "volume", tmp_path / "staging"
    local.mkdir()
    (local / "audit_20260301.csv").write_text(staged, encoding="utf-8")
    if existing is not None:
        durable.mkdir()
        (durable / "audit_20260301.csv").write_text(existing, encoding="utf-8")
    folder = StagedFolder(str(durable), str(local), staged=True)
    assert folder.final_path(local / "audit_20260301.csv") == f"{durable}/audit_20260301.csv"
    assert folder.publish() == [f"{durable}/audit_20260301.csv"]
    assert (durable / "audit_20260301.csv").read_text(encoding="utf-8") == merged
