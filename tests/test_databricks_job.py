"""The Databricks job entry (`ingest-job`) run the way a job cluster runs it.

Each "cluster" is a subprocess with `DATABRICKS_RUNTIME_VERSION` set, a fresh HOME, working folder and
TMPDIR, and an environment holding only the workspace host and token: the credentials, the lake URL and
its connection come from the secret scope of the local Databricks API server, the lake, the logs and the
audit live in Azurite. After each run the cluster's folders are deleted; only the lake remembers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from demo_changes import add_new_orders
from dlt_ingest.demo import build_demo_database
from dlt_ingest.records.staging import StagedFolder
from dlt_ingest.workbook.template import DEMO_ROWS, write_workbook
from secret_stores import shared_workspace
from services.databricks_api import TOKEN

INGEST_JOB = Path(sys.executable).parent / "ingest-job"
ORDERS = DEMO_ROWS[0]
GHOST = {"source_type": "sqlite", "source_name": "demo", "table_name": "ghost", "load_type": "FULL", "enabled": "Y"}
DAY_1, DAY_2 = "2026-03-01T02:00:00Z", "2026-03-02T02:00:00Z"


@dataclass
class Workspace:
    """What outlives a cluster: the source database, the workbook on a "volume", and one Azurite container."""

    root: Path
    database: Path
    workbook: Path
    container: str
    fs: Any

    def bucket(self, folder: str) -> str:
        return f"az://{self.container}/{folder}"

    def files(self, folder: str) -> list[str]:
        self.fs.invalidate_cache()
        base = f"{self.container}/{folder}/"
        return sorted(p[len(base):] for p in self.fs.find(base))

    def text(self, folder: str, name: str) -> str:
        return bytes(self.fs.cat_file(f"{self.container}/{folder}/{name}")).decode("utf-8")

    def audit(self) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        for name in self.files("metadata"):
            if name.endswith(".csv"):
                rows.extend(csv.DictReader(io.StringIO(self.text("metadata", name))))
        return rows

    def lake(self, table: str) -> pa.Table:
        parts = [pq.read_table(io.BytesIO(self.fs.cat_file(f"{self.container}/raw/demo/{table}/{name}")))
                 for name in self.files(f"raw/demo/{table}") if name.endswith(".parquet")]
        return pa.concat_tables(parts, promote_options="default")


@pytest.fixture
def databricks(tmp_path: Path, azurite: Any) -> Iterator[Workspace]:
    server = shared_workspace()
    server.reset()
    container = f"job-{uuid.uuid4().hex[:12]}"
    azurite.create_container(container)
    database = build_demo_database(tmp_path / "source" / "demo.sqlite")
    workbook = write_workbook(tmp_path / "Volumes" / "main" / "ingest" / "config" / "ingestion_config.xlsx",
                              [ORDERS, GHOST])
    scope = {
        "demo-database": str(database),
        "adls-bucket-url": f"az://{container}/raw",
        "adls-storage-account-name": azurite.account,
        "adls-storage-account-key": azurite.key,
        "adls-kwargs": json.dumps({"connection_string": azurite.connection_string()}),
    }
    for key, value in scope.items():
        server.put("dlt-framework", key, value)
    yield Workspace(tmp_path, database, workbook, container, azurite.filesystem())
    server.reset()


@dataclass
class ClusterRun:
    code: int
    stdout: str
    stderr: str
    local_disk: list[str]  # what the run left on the cluster's disk, relative to it


def run_on_fresh_cluster(workspace: Workspace, day: str, name: str, log_dir: str | None = None) -> ClusterRun:
    """One job run on a new cluster; its disk is listed, then wiped."""
    disk = workspace.root / name
    home, cwd, tmp = disk / "home", disk / "driver", disk / "tmp"
    for folder in (home, cwd, tmp):
        folder.mkdir(parents=True)
    server = shared_workspace()
    env = {
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp),
        "DATABRICKS_RUNTIME_VERSION": "15.4", "DATABRICKS_HOST": server.host, "DATABRICKS_TOKEN": TOKEN,
        "RUNTIME__DLTHUB_TELEMETRY": "false", "DESTINATION__FILESYSTEM__CURRENT_DATETIME": day,
    }
    args = [str(INGEST_JOB), "--config", str(workspace.workbook),
            "--log-dir", log_dir or workspace.bucket("logs"), "--audit-dir", workspace.bucket("metadata")]
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    local = sorted(p.relative_to(disk).as_posix() for p in disk.rglob("*") if p.is_file())
    shutil.rmtree(disk)  # the cluster is gone
    return ClusterRun(done.returncode, done.stdout, done.stderr, local)


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
