"""The Databricks Asset Bundle, checked without the Databricks CLI (it cannot run here).

It parses, every variable it uses is declared with a default, and every task points at things that exist:
the wheel's console script, notebooks and files in the repo, flags that `ingest-job` (and so `ingest run`)
accepts, task values the planner publishes, packages of pyproject. The for_each fan-out also runs end to
end on a simulated runtime in tests/test_fanout.py.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
import typer.main

from dlt_ingest.cli.databricks_job import parse_job_arguments
from dlt_ingest.cli.fanout import job_app
from simulated_jobs import load_bundle

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
WORKSPACE_FILE = re.compile(r"^\$\{workspace\.file_path\}/(.+)$")
VARIABLE = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")
TASK_VALUE = re.compile(r"\{\{tasks\.([A-Za-z0-9_]+)\.values\.([A-Za-z0-9_]+)\}\}")
PUBLISHED = {"slices", "planned_at"}  # what `ingest-job plan` publishes (cli/fanout.py)
SAMPLE_SLICE = {"name": "demo", "jobs": 2, "select": ["demo.orders", "demo.customers"]}


BUNDLE_DATA = load_bundle()
JOBS: dict[str, Any] = BUNDLE_DATA["resources"]["jobs"]


def all_tasks(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A job's tasks, each for_each task followed by the task it runs per iteration."""
    for task in job["tasks"]:
        yield task
        if "for_each_task" in task:
            yield task["for_each_task"]["task"]


TASKS = [(name, task) for name, job in JOBS.items() for task in all_tasks(job)]
WHEEL_TASKS = [(name, task) for name, task in TASKS if "python_wheel_task" in task]


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


def with_runtime_values(text: str) -> str:
    """What Databricks substitutes at run time: the iteration's input and the planner's task values."""
    values = {"slices": json.dumps([SAMPLE_SLICE]), "planned_at": "2026-03-01 02:00:00"}
    text = text.replace("{{input}}", json.dumps(SAMPLE_SLICE))
    return TASK_VALUE.sub(lambda m: values[m.group(2)], with_defaults(text))


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


def parse_entry_arguments(args: list[str]) -> None:
    """Parse as `ingest-job` would: `plan`/`report` by their commands, anything else as a run (raises)."""
    if args and args[0] in ("plan", "report"):
        typer.main.get_command(job_app).commands[args[0]].make_context(args[0], args[1:])  # type: ignore[attr-defined]
        return
    parsed = parse_job_arguments(args)
    assert not isinstance(parsed, int), f"ingest-job refused {args}"


@pytest.mark.parametrize(("job_name", "task"), WHEEL_TASKS, ids=[f"{j}.{t['task_key']}" for j, t in WHEEL_TASKS])
def test_each_task_runs_the_wheels_entry_point_with_flags_ingest_job_accepts(
        job_name: str, task: dict[str, Any]) -> None:
    wheel_task = task["python_wheel_task"]
    assert wheel_task["package_name"].replace("_", "-") == PYPROJECT["project"]["name"]
    target = PYPROJECT["project"]["scripts"][wheel_task["entry_point"]]
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))
    parse_entry_arguments([with_runtime_values(str(p)) for p in wheel_task["parameters"]])
    if "job_cluster_key" in task:
        assert {task["job_cluster_key"]} <= {c["job_cluster_key"] for c in JOBS[job_name]["job_clusters"]}
    else:
        assert "new_cluster" in task


def upstream(job: dict[str, Any], key: str) -> set[str]:
    """The tasks that finish before `key` starts (its dependencies, and theirs)."""
    depends = {t["task_key"]: [d["task_key"] for d in t.get("depends_on", [])] for t in job["tasks"]}
    found, todo = set(), list(depends[key])
    while todo:
        name = todo.pop()
        assert name in depends, f"{key} depends on the unknown task {name}"
        if name not in found:
            found.add(name)
            todo += depends[name]
    return found


def test_every_task_value_reference_names_an_upstream_task_and_a_value_it_publishes() -> None:
    for job in JOBS.values():
        for task in job["tasks"]:
            for found in TASK_VALUE.finditer(json.dumps(task)):
                assert found.group(1) in upstream(job, task["task_key"]), (task["task_key"], found.group(0))
                assert found.group(1) == "plan" and found.group(2) in PUBLISHED


def test_the_for_each_job_plans_then_runs_one_iteration_per_slice_then_reports() -> None:
    job = JOBS["dlt_ingest_for_each"]
    assert [t["task_key"] for t in job["tasks"]] == ["plan", "ingest", "report"]
    plan, ingest, report = job["tasks"]
    assert plan["notebook_task"]["notebook_path"] == "../notebooks/fanout_plan.py"
    loop = ingest["for_each_task"]
    assert loop["inputs"] == "{{tasks.plan.values.slices}}"
    assert loop["concurrency"] == "${var.fanout_concurrency}"
    assert int(with_defaults(str(loop["concurrency"]))) >= 1
    assert ingest["depends_on"] == [{"task_key": "plan"}]
    parameters = loop["task"]["python_wheel_task"]["parameters"]
    assert parameters[parameters.index("--slice") + 1] == "{{input}}"
    assert "--select" not in parameters  # each iteration's slice is its whole selection
    assert report["depends_on"] == [{"task_key": "ingest"}] and report["run_if"] == "ALL_DONE"
    assert report["python_wheel_task"]["parameters"][0] == "report"
    assert job["schedule"]["pause_status"] == "PAUSED" and job["max_concurrent_runs"] == 1


NOTEBOOK_TASKS = [(name, task) for name, task in TASKS if "notebook_task" in task]


@pytest.mark.parametrize(("job_name", "task"), NOTEBOOK_TASKS, ids=[f"{j}.{t['task_key']}" for j, t in NOTEBOOK_TASKS])
def test_notebook_tasks_point_at_notebooks_whose_widgets_build_valid_plan_arguments(
        job_name: str, task: dict[str, Any]) -> None:
    notebook = (REPO / "resources" / task["notebook_task"]["notebook_path"]).resolve()
    text = notebook.read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source\n")
    parameters = {k: with_defaults(str(v)) for k, v in task["notebook_task"]["base_parameters"].items()}
    assert all(f'"{name}"' in text for name in parameters)
    args = ["plan", "--config", parameters["config"], "--project-dir", parameters["project_dir"],
            *shlex.split(parameters["plan_options"])]  # what the notebook builds from its widgets
    parse_entry_arguments(args)


RUNNING_TASKS = [(name, task) for name, task in TASKS if "for_each_task" not in task]


@pytest.mark.parametrize(("job_name", "task"), RUNNING_TASKS, ids=[f"{j}.{t['task_key']}" for j, t in RUNNING_TASKS])
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
    assert all(("python_wheel_task" in t) + ("notebook_task" in t) + ("for_each_task" in t) == 1 for _, t in TASKS)
    assert [f for f in python_files if not (REPO / f).is_file()] == []
    assert (REPO / "scripts" / "databricks_job.py").is_file()


def test_local_secrets_and_state_are_never_uploaded() -> None:
    assert {".dlt/secrets.toml", ".dlt/pipelines"} <= set(BUNDLE_DATA["sync"]["exclude"])
