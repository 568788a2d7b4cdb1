"""The Databricks Asset Bundle, checked without the Databricks CLI (it cannot run here).

It parses, every variable it uses is declared with a default, and every task points at things that exist:
the wheel's console script, files in the repo, flags that `ingest run` accepts, packages of pyproject.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
import typer.main
import yaml

from dlt_ingest.cli.app import app

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "databricks.yml"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
WORKSPACE_FILE = re.compile(r"^\$\{workspace\.file_path\}/(.+)$")
VARIABLE = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")


def load_bundle() -> dict[str, Any]:
    bundle = yaml.safe_load(BUNDLE.read_text(encoding="utf-8"))
    for pattern in bundle.get("include", []):
        for path in sorted(REPO.glob(pattern)):
            included = yaml.safe_load(path.read_text(encoding="utf-8"))
            for kind, items in included.get("resources", {}).items():
                bundle.setdefault("resources", {}).setdefault(kind, {}).update(items)
    return bundle


BUNDLE_DATA = load_bundle()
JOBS: dict[str, Any] = BUNDLE_DATA["resources"]["jobs"]
TASKS = [(name, task) for name, job in JOBS.items() for task in job["tasks"]]


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def with_defaults(text: str) -> str:
    variables = BUNDLE_DATA["variables"]
    return VARIABLE.sub(lambda m: str(variables[m.group(1)]["default"]), text)


def test_every_variable_has_a_default_and_every_reference_is_declared() -> None:
    variables = BUNDLE_DATA["variables"]
    assert [name for name, spec in variables.items() if "default" not in spec] == []
    used = {m for text in strings(BUNDLE_DATA) for m in VARIABLE.findall(text)}
    assert used - set(variables) == set()


def test_the_daily_job_runs_at_two_utc_on_the_guides_cluster() -> None:
    job = JOBS["dlt_ingest_daily"]
    assert job["schedule"]["quartz_cron_expression"] == "0 0 2 * * ?"
    assert with_defaults(job["schedule"]["timezone_id"]) == "UTC"
    cluster = job["job_clusters"][0]["new_cluster"]
    assert with_defaults(cluster["node_type_id"]) == "Standard_DS4_v2"
    assert [with_defaults(str(cluster["autoscale"][k])) for k in ("min_workers", "max_workers")] == ["2", "8"]
    assert with_defaults(cluster["spark_env_vars"]["INGEST__DATABRICKS_SECRET_SCOPE"]) == "dlt-framework"


@pytest.mark.parametrize(("job_name", "task"), TASKS, ids=[f"{j}.{t['task_key']}" for j, t in TASKS])
def test_each_task_runs_the_wheels_entry_point_with_flags_ingest_run_accepts(
        job_name: str, task: dict[str, Any]) -> None:
    wheel_task = task["python_wheel_task"]
    assert wheel_task["package_name"].replace("_", "-") == PYPROJECT["project"]["name"]
    target = PYPROJECT["project"]["scripts"][wheel_task["entry_point"]]
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))
    run_args = [with_defaults(str(p)) for p in wheel_task["parameters"]]
    run_command = typer.main.get_command(app).commands["run"]  # ingest-job parses its arguments with it
    run_command.make_context("run", run_args)  # raises on an unknown flag or a bad value
    assert {task["job_cluster_key"]} <= {c["job_cluster_key"] for c in JOBS[job_name]["job_clusters"]}


@pytest.mark.parametrize(("job_name", "task"), TASKS, ids=[f"{j}.{t['task_key']}" for j, t in TASKS])
def test_task_libraries_are_the_bundle_wheel_and_packages_of_pyproject(job_name: str, task: dict[str, Any]) -> None:
    extras = {req for reqs in PYPROJECT["project"]["optional-dependencies"].values() for req in reqs}
    wheels = [lib["whl"] for lib in task["libraries"] if "whl" in lib]
    assert wheels == ["./dist/*.whl"]
    assert "--wheel-dir dist" in BUNDLE_DATA["artifacts"]["dlt_ingest_wheel"]["build"]
    assert [lib["pypi"]["package"] for lib in task["libraries"] if "pypi" in lib and
            lib["pypi"]["package"] not in extras] == []


def test_files_the_bundle_points_at_exist_and_scripts_are_executable() -> None:
    referenced = {m.group(1) for text in strings(BUNDLE_DATA) if (m := WORKSPACE_FILE.match(text))}
    assert referenced == {"scripts/databricks/install_odbc.sh"}
    for relative in referenced:
        assert (REPO / relative).is_file()
        assert (REPO / relative).stat().st_mode & 0o111
    python_files = [t["spark_python_task"]["python_file"] for _, t in TASKS if "spark_python_task" in t]
    assert [f for f in python_files if not (REPO / f).is_file()] == []
    assert (REPO / "scripts" / "databricks_job.py").is_file()


def test_local_secrets_and_state_are_never_uploaded() -> None:
    assert {".dlt/secrets.toml", ".dlt/pipelines"} <= set(BUNDLE_DATA["sync"]["exclude"])
