"""The lake under test, on local disk or on Azurite, behind one small interface so each case runs on both."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import Project


class LocalLake:
    """The default lake, `./lake` in the project."""

    kind = "local"

    def __init__(self, project: Project) -> None:
        self.root = project.path / "lake"

    def files(self, dataset: str, table: str) -> list[str]:
        """Parquet files of a table, relative to the bucket root (e.g. demo/orders/2026/02/12/x.parquet)."""
        return sorted(p.relative_to(self.root).as_posix() for p in (self.root / dataset / table).rglob("*.parquet"))

    def read(self, dataset: str, table: str) -> pa.Table:
        return pa.concat_tables([pq.read_table(self.root / f) for f in self.files(dataset, table)],
                                promote_options="default")


class AzuriteLake:
    """A fresh container on the session's Azurite, reached as az://container/raw or abfss://container@.../raw."""

    def __init__(self, project: Project, azurite: Any, form: str, create: bool = True) -> None:
        self.azurite = azurite
        self.kind = form
        self.container = f"lake-{uuid.uuid4().hex[:12]}"
        if create:
            azurite.create_container(self.container)
        self.bucket_url = (f"az://{self.container}/raw" if form == "az"
                           else f"abfss://{self.container}@{azurite.account}.dfs.core.windows.net/raw")
        self.base = f"{self.container}/raw"
        self.fs = azurite.filesystem()
        project.append_config(azurite.destination_config(self.bucket_url), "secrets.toml")

    def files(self, dataset: str, table: str) -> list[str]:
        self.fs.invalidate_cache()
        found = self.fs.find(f"{self.base}/{dataset}/{table}")
        return sorted(p[len(self.base) + 1:] for p in found if p.endswith(".parquet"))

    def read(self, dataset: str, table: str) -> pa.Table:
        tables = []
        for relative in self.files(dataset, table):
            with self.fs.open(f"{self.base}/{relative}", "rb") as handle:
                tables.append(pq.read_table(handle))
        return pa.concat_tables(tables, promote_options="default")


def local_dlt_folders(project: Project) -> list[Path]:
    """Every folder dlt keeps on this machine for the project (what an ephemeral cluster loses)."""
    return [project.path / ".dlt" / "pipelines"]
