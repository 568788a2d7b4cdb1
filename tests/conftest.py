"""Shared fixtures: an isolated project folder per test, real services once per session."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

from dlt_ingest.cli.app import app
from dlt_ingest.demo import build_demo_database
from dlt_ingest.redaction import SECRETS
from dlt_ingest.secrets.chain import use_project
from dlt_ingest.workbook.template import write_workbook

BASE_CONFIG = """
[runtime]
dlthub_telemetry = false
log_level = "WARNING"

[sources.demo]
database = "data/demo.sqlite"
"""

_ISOLATED_ENV_PREFIXES = ("SOURCES__", "DESTINATION__", "INGEST__", "DLT_", "AZURE_", "DATABRICKS_")


@dataclass
class Project:
    """A throwaway dlt-ingest project folder, the current directory while the test runs."""

    path: Path
    runner: CliRunner

    @property
    def workbook(self) -> Path:
        return self.path / "config" / "ingestion_config.xlsx"

    def write_workbook(self, rows: Sequence[dict[str, Any]]) -> Path:
        return write_workbook(self.workbook, rows)

    def append_config(self, text: str, file: str = "config.toml") -> None:
        with (self.path / ".dlt" / file).open("a", encoding="utf-8") as handle:
            handle.write("\n" + text + "\n")
        use_project(str(self.path))

    def ingest(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args), catch_exceptions=False)

    def lake_files(self, dataset: str, table: str) -> list[Path]:
        return sorted((self.path / "lake" / dataset / table).rglob("*.parquet"))

    def read_lake(self, dataset: str, table: str) -> pa.Table:
        files = self.lake_files(dataset, table)
        assert files, f"no parquet files for {dataset}/{table}"
        return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")

    def audit_rows(self) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        for path in sorted((self.path / "metadata").glob("audit_*.csv")):
            with path.open(encoding="utf-8", newline="") as handle:
                rows.extend(csv.DictReader(handle))
        return rows

    def all_output_text(self) -> str:
        """Every byte written under logs/, metadata/ and the lake, decoded loosely, for leak checks."""
        chunks = []
        for folder in ("logs", "metadata", "lake", ".dlt/pipelines"):
            for file in (self.path / folder).rglob("*"):
                if file.is_file():
                    chunks.append(file.read_bytes().decode("utf-8", errors="replace"))
                    chunks.append(str(file))
        return "\n".join(chunks)


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_database(tmp_path_factory.mktemp("demo") / "demo.sqlite")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_database: Path) -> Iterator[Project]:
    for name in list(os.environ):
        if name.startswith(_ISOLATED_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    root = tmp_path / "project"
    (root / ".dlt").mkdir(parents=True)
    (root / ".dlt" / "config.toml").write_text(BASE_CONFIG, encoding="utf-8")
    (root / "data").mkdir()
    shutil.copy(demo_database, root / "data" / "demo.sqlite")
    monkeypatch.chdir(root)
    use_project(str(root))
    SECRETS.clear()
    yield Project(root, CliRunner())
    SECRETS.clear()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    from services.postgres import start_postgres

    server = start_postgres()
    yield server
    server.cleanup()


def service_missing(what: str, how: str) -> NoReturn:
    """A system part a test needs is not installed: skip locally with how to get it, fail in CI (`CI` set),
    where scripts/test installs it and its absence is a broken CI, not a reason to skip."""
    message = f"{what} is not installed: {how} (CI=1 ./scripts/test installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[Any]:
    from services.mariadb import MARIADBD_CANDIDATES, start_mariadb

    if not any(Path(candidate).exists() for candidate in MARIADBD_CANDIDATES):
        service_missing("MariaDB's server", "apt-get install mariadb-server-core mariadb-client-core mariadb-client")
    server = start_mariadb()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Any]:
    from services.azurite import start_azurite

    server = start_azurite()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Spark session (started once; the catalog's SQL runs on it)."""
    from spark_session import start_local_spark

    session = start_local_spark(tmp_path_factory.mktemp("spark"))
    yield session
    session.stop()
