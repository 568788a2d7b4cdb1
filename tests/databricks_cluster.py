"""Simulated Databricks clusters: a workspace that outlives them, and fresh clusters that are wiped after a run.

Each "cluster" is a subprocess with `DATABRICKS_RUNTIME_VERSION` set, a fresh HOME, working folder and
TMPDIR, and an environment holding only the workspace host and token (plus the cluster's own environment
variables): the credentials, the lake URL and its connection come from the secret scope of the local
Databricks API server, the lake, the logs and the audit live in Azurite. After each run the cluster's
folders are deleted; only the workspace remembers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dlt_ingest.demo import build_demo_database
from dlt_ingest.workbook.template import write_workbook
from secret_stores import shared_workspace
from services.databricks_api import TOKEN

INGEST_JOB = Path(sys.executable).parent / "ingest-job"


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

    def lake(self, table: str, source: str = "demo") -> pa.Table:
        parts = [pq.read_table(io.BytesIO(self.fs.cat_file(f"{self.container}/raw/{source}/{table}/{name}")))
                 for name in self.files(f"raw/{source}/{table}") if name.endswith(".parquet")]
        return pa.concat_tables(parts, promote_options="default")


def create_workspace(root: Path, azurite: Any, rows: Sequence[Mapping[str, Any]],
                     sources: Sequence[str] = ("demo",)) -> Workspace:
    """A demo database, a workbook of `rows`, a container, and the secret scope: every source in `sources`
    reads the demo database, the lake is the container's `raw/` folder."""
    server = shared_workspace()
    server.reset()
    container = f"job-{uuid.uuid4().hex[:12]}"
    azurite.create_container(container)
    database = build_demo_database(root / "source" / "demo.sqlite")
    workbook = write_workbook(root / "Volumes" / "main" / "ingest" / "config" / "ingestion_config.xlsx", rows)
    scope = {
        **{f"{source}-database": str(database) for source in sources},
        "adls-bucket-url": f"az://{container}/raw",
        "adls-storage-account-name": azurite.account,
        "adls-storage-account-key": azurite.key,
        "adls-kwargs": json.dumps({"connection_string": azurite.connection_string()}),
    }
    for key, value in scope.items():
        server.put("dlt-framework", key, value)
    return Workspace(root, database, workbook, container, azurite.filesystem())


@dataclass
class ClusterRun:
    code: int
    stdout: str
    stderr: str
    local_disk: list[str]  # what the run left on the cluster's disk, relative to it


def run_on_new_cluster(root: Path, name: str, command: Sequence[str],
                       env: Mapping[str, str] | None = None) -> ClusterRun:
    """`command` on a new cluster (its disk under `root`, extra environment variables in `env`); its disk is
    listed, then wiped."""
    disk = root / name
    home, cwd, tmp = disk / "home", disk / "driver", disk / "tmp"
    for folder in (home, cwd, tmp):
        folder.mkdir(parents=True)
    server = shared_workspace()
    full_env = {
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp),
        "DATABRICKS_RUNTIME_VERSION": "15.4", "DATABRICKS_HOST": server.host, "DATABRICKS_TOKEN": TOKEN,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),  # this checkout's code
        **(env or {}),
    }
    done = subprocess.run(list(command), cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)
    local = sorted(p.relative_to(disk).as_posix() for p in disk.rglob("*") if p.is_file())
    shutil.rmtree(disk)  # the cluster is gone
    return ClusterRun(done.returncode, done.stdout, done.stderr, local)
