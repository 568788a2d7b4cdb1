"""A newcomer's first hour, from an empty folder: the built wheel installed into a fresh virtualenv,
`ingest init`, the workbook edited to a local PostgreSQL, `ingest run --project-dir` from another folder.

The package under test is the wheel `pip wheel` builds from this checkout, installed into a venv of its
own (no pip, no site packages). Its dependencies come from the suite's venv through a `.pth` line: the
same packages pip would install from PyPI, without a download on every run. The editable install of the
suite's venv is not on that path (a `.pth` line adds a folder, not the `.pth` files inside it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Project
from services.postgres import PostgresDatabase, fresh_database
from test_project_folder import enable, workbook_rows

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout installed into it; returns its bin folder."""
    root = tmp_path_factory.mktemp("newcomer")
    source = root / "source"  # a copy: building writes build/ and *.egg-info next to the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "tests", "benchmarks", "build", "*.egg-info", "__pycache__", ".*cache",
        ".hypothesis", "lake", "logs", "metadata"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist",
         source, cwd=root)
    wheel = next((root / "dist").glob("dlt_ingest-*.whl"))
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel, cwd=root)
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout
    suite = sysconfig.get_paths()["purelib"]  # the dependencies, as pip would have installed them
    (Path(purelib.strip()) / "suite-dependencies.pth").write_text(suite + "\n", encoding="utf-8")
    return venv / "bin"


@pytest.fixture
def clean_env(project: Project) -> dict[str, str]:
    """What a newcomer's shell has: no PYTHONPATH pointing at this checkout, no test settings."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"RUNTIME__DLTHUB_TELEMETRY": "false"}


@pytest.fixture
def shop(postgres: Any) -> Iterator[PostgresDatabase]:
    with fresh_database(postgres, "newcomer") as database:
        database.execute(
            "CREATE TABLE public.orders (id integer PRIMARY KEY, amount numeric(10, 2), updated_at timestamptz)",
            "INSERT INTO public.orders SELECT g, g * 1.25, "
            "timestamptz '2026-01-20 00:00:00+00' + g * interval '1 hour' FROM generate_series(1, 250) g")
        yield database


def test_the_built_wheel_runs_a_new_project_from_another_folder(
        installed: Path, clean_env: dict[str, str], shop: PostgresDatabase, tmp_path: Path) -> None:
    empty = tmp_path / "start"
    empty.mkdir()
    where = _run(installed / "python", "-c", "import dlt_ingest; print(dlt_ingest.__file__)", cwd=empty, env=clean_env)
    assert where.stdout.strip().startswith(str(installed.parent)), where.stdout  # the wheel, not this checkout

    init = _run(installed / "ingest", "init", "sales", cwd=empty, env=clean_env)
    project = empty / "sales"
    assert "Next steps:" in init.stdout
    workbook = project / "config" / "ingestion_config.xlsx"
    enable(workbook, "postgresql", table_name="orders", schema_name="public", watermark_column="updated_at",
           last_watermark="2026-01-01T00:00:00", primary_key="id")
    assert [r["enabled"] for r in workbook_rows(workbook) if r["source_type"] == "postgresql"] == ["Y"]
    with (project / ".dlt" / "secrets.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + shop.secrets_toml("postgres") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checked = _run(installed / "ingest", "validate-config", "--check-secrets", "--project-dir", project, cwd=elsewhere,
                   env=clean_env)
    assert "All credentials resolved for 1 source(s)." in checked.stdout
    run = _run(installed / "ingest", "run", "--project-dir", project, cwd=elsewhere, env=clean_env)
    assert "Successful: 1" in run.stdout and "Rows: 250" in run.stdout
    assert sorted(p.name for p in elsewhere.iterdir()) == []
    assert list((project / "lake" / "postgres" / "orders").rglob("*.parquet"))
    assert list((project / "logs").glob("main_orchestrator_*.log"))
    audit = next((project / "metadata").glob("audit_*.csv")).read_text(encoding="utf-8")
    assert ",postgres.public.orders,SUCCESS,250," in audit
