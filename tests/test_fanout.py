"""The for_each fan-out: slices that never overlap, and the bundle's job run end to end on a simulated runtime.

The simulated run (tests/simulated_jobs.py) takes the job from resources/*.yml as written: the planner
notebook publishes the slices through `dbutils.jobs.taskValues` (a fake Databricks runtime the real SDK
loads), the for_each task runs `ingest-job --slice` for each slice in parallel on fresh clusters against
the demo SQLite database, a lake and an audit folder in Azurite, and the report task reads every slice back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from databricks_cluster import INGEST_JOB, Workspace, create_workspace, run_on_new_cluster
from dlt_ingest.cli.databricks_job import run_job
from dlt_ingest.engine.plan import select_jobs
from dlt_ingest.engine.slices import TASK_VALUE_LIMIT, job_name_of, plan_slices, slices_value
from dlt_ingest.errors import ConfigError
from dlt_ingest.workbook.model import Job, LoadType
from dlt_ingest.workbook.template import DEMO_ROWS, write_workbook
from secret_stores import shared_workspace
from simulated_jobs import FAKE_RUNTIME, SimulatedJobRun, load_bundle

ORDERS, CUSTOMERS, PRODUCTS = DEMO_ROWS
SHOP_PRODUCTS = {**PRODUCTS, "source_name": "shop"}
SHOP_GHOST = {"source_type": "sqlite", "source_name": "shop", "table_name": "ghost", "load_type": "FULL",
              "enabled": "Y"}


def jobs(*counts: int, names: tuple[str, ...] = ()) -> list[Job]:
    """`counts[i]` jobs of source `s<i>` (tables t0, t1, ...), or one job per name in `names`."""
    made = [Job("sqlite", f"s{i}", f"t{n}", LoadType.FULL) for i, count in enumerate(counts) for n in range(count)]
    return made + [Job("sqlite", "odd", name, LoadType.FULL) for name in names]


def assert_partition(all_jobs: list[Job], slices: list[Any]) -> None:
    """Each job is selected by exactly one slice, with `ingest run`'s own selection."""
    chosen = [job.name for item in slices for job in select_jobs(all_jobs, item.select, ())]
    assert sorted(chosen) == sorted(job.name for job in all_jobs)


@pytest.mark.parametrize(("counts", "per_slice", "max_slices", "sizes"), [
    ((3, 1, 2), 0, 0, [3, 1, 2]),  # one slice per source
    ((7, 1), 3, 0, [3, 2, 2, 1]),  # a large source in near-equal parts
    ((5, 4, 3, 2, 1), 0, 2, [8, 7]),  # sources packed onto two slices, whole
    ((10, 1, 1), 4, 2, [6, 6]),  # parts packed by job count
    ((1,), 0, 5, [1]),
])
def test_every_selected_job_is_in_exactly_one_slice(counts: tuple[int, ...], per_slice: int, max_slices: int,
                                                    sizes: list[int]) -> None:
    selected = jobs(*counts)
    slices = plan_slices(selected, per_slice, max_slices)
    assert [len(item.select) for item in slices] == sizes
    assert len({item.name for item in slices}) == len(slices)
    assert_partition(selected, slices)


def test_slices_are_named_after_their_source_and_part() -> None:
    assert [(s.name, s.select) for s in plan_slices(jobs(2, 3), 2)] == [
        ("s0", ("s0.t0", "s0.t1")), ("s1-1", ("s1.t0", "s1.t1")), ("s1-2", ("s1.t2",))]
    assert [s.name for s in plan_slices(jobs(2, 3, 1), 0, 2)] == ["slice-1", "slice-2"]


def test_job_names_with_glob_characters_select_only_themselves() -> None:
    tricky = jobs(names=("a*", "a[1]", "a?", "a1", "ab"))
    slices = plan_slices(tricky, 1)
    assert_partition(tricky, slices)
    assert [job_name_of(p) for item in slices for p in item.select] == [j.name for j in tricky]


def test_a_plan_larger_than_a_task_value_is_refused_with_the_fix() -> None:
    many = [Job("sqlite", "big", f"table_with_a_long_name_{i:05d}", LoadType.FULL) for i in range(2000)]
    with pytest.raises(ConfigError) as raised:
        slices_value(plan_slices(many, 1))
    assert "48 KiB" in str(raised.value) and "raise --max-jobs-per-slice or set --max-slices" in str(raised.value)
    assert len(json.dumps(slices_value(plan_slices(many[:1000], 0)))) < TASK_VALUE_LIMIT


@pytest.mark.parametrize(("args", "message"), [
    (["--slice", "demo.orders"], "Error: --slice 'demo.orders' is not JSON: pass one element of the plan's slices, "
                                 'e.g. {"name": "demo", "select": ["demo.orders"]}'),
    (["--slice", '{"name": "demo"}'], 'Error: a slice has no list of job patterns under "select": pass one element '
                                      'of the plan\'s slices, e.g. {"name": "demo", "select": ["demo.orders"]}'),
    (["--slice", '{"name": "../x", "select": ["demo.orders"]}'],
     "Error: slice name '../x' is not a slice name (lower case letters, digits, - and _): pass one element of the "
     'plan\'s slices, e.g. {"name": "demo", "select": ["demo.orders"]}'),
    (["--select", "demo.*", "--slice", '{"name": "demo", "select": ["demo.orders"]}'],
     "Error: --slice is a selection of its own: drop --select (use --exclude to narrow it)"),
], ids=["not-json", "no-select", "bad-name", "with-select"])
def test_a_wrong_slice_argument_exits_2_with_the_fix(capsys: pytest.CaptureFixture[str], args: list[str],
                                                     message: str) -> None:
    assert run_job(args) == 2
    assert capsys.readouterr().err.strip() == message


@pytest.fixture
def fanout_workspace(tmp_path: Path, azurite: Any) -> Iterator[Workspace]:
    yield create_workspace(tmp_path, azurite, [ORDERS, CUSTOMERS, SHOP_PRODUCTS, SHOP_GHOST], ("demo", "shop"))
    shared_workspace().reset()


def test_the_for_each_job_runs_one_iteration_per_slice_in_parallel_and_reports_every_slice(
        fanout_workspace: Workspace, azurite: Any) -> None:
    workspace = fanout_workspace
    files = workspace.root / "Workspace" / "files"  # the bundle's synced files (no secrets among them)
    (files / ".dlt").mkdir(parents=True)
    run = SimulatedJobRun(load_bundle(), "dlt_ingest_for_each", workspace.root / "clusters", files, {
        "workbook_path": str(workspace.workbook), "log_dir": workspace.bucket("logs"),
        "audit_dir": workspace.bucket("metadata"), "fanout_concurrency": "2"})
    outcome = run.run()

    plan = run.runs["plan"][0]
    assert plan.code == 0, plan.stdout + plan.stderr
    assert "Published task values: slices, planned_at" in plan.stdout
    assert run.task_values["plan"]["slices"] == [
        {"name": "demo", "jobs": 2, "select": ["demo.orders", "demo.customers"]},
        {"name": "shop", "jobs": 2, "select": ["shop.products", "shop.ghost"]}]

    demo, shop = run.runs["ingest"]  # one slice failing fails only its own iteration
    assert demo.code == 0, demo.stdout + demo.stderr
    assert shop.code == 1 and "[FAILED] Job shop.ghost" in shop.stdout
    assert outcome == {"plan": True, "ingest": False, "report": False}

    report = run.runs["report"][0]  # runs although a slice failed, covers both
    assert report.code == 1, report.stdout + report.stderr
    assert "[SUCCESS] demo: demo.orders" in report.stdout and "[SUCCESS] shop: shop.products" in report.stdout
    assert "[FAILED] shop: shop.ghost - " in report.stdout
    assert "Fan-out: 2 slice(s), 4 job(s): 3 succeeded, 1 failed, 0 not run" in report.stdout

    day = run.task_values["plan"]["planned_at"][:10].replace("-", "")
    audit_files = [name for name in workspace.files("metadata") if name.endswith(".csv")]
    assert audit_files == [f"audit_{day}_demo.csv", f"audit_{day}_shop.csv"]  # no slice rewrites another's
    assert sorted((r["job_name"], r["status"]) for r in workspace.audit()) == [
        ("demo.customers", "SUCCESS"), ("demo.orders", "SUCCESS"), ("shop.ghost", "FAILED"),
        ("shop.products", "SUCCESS")]
    assert [name for name in workspace.files("metadata") if name.startswith("fanout_")] == [
        f"fanout_{run.task_values['plan']['planned_at'].replace('-', '').replace(':', '').replace(' ', '_')}.html"]
    assert {name.rsplit("_", 1)[-1] for name in workspace.files("logs") if name.startswith("main_orchestrator_")} == {
        "demo.log", "shop.log"}
    assert workspace.lake("orders").num_rows == 3000 and workspace.lake("products", "shop").num_rows == 120
    every_output = "".join(r.stdout + r.stderr for runs in run.runs.values() for r in runs)
    assert azurite.key not in every_output


@pytest.mark.parametrize("runtime", ["sdk-runtime", "none"])
def test_ingest_job_plan_publishes_through_the_runtimes_dbutils_or_says_where_it_can(
        tmp_path: Path, runtime: str) -> None:
    workbook = write_workbook(tmp_path / "ingestion_config.xlsx", [ORDERS, SHOP_PRODUCTS])
    values = tmp_path / "values.json"
    env = {"FAKE_DATABRICKS_TASK_VALUES": str(values)}
    if runtime == "sdk-runtime":  # the Databricks runtime's own package, found by databricks.sdk.runtime
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FAKE_RUNTIME), os.environ.get("PYTHONPATH")) if p)
    done = run_on_new_cluster(tmp_path, "cluster", [str(INGEST_JOB), "plan", "--config", str(workbook)], env)
    if runtime == "none":
        assert done.code == 2
        assert done.stderr.strip() == ("Error: no dbutils.jobs.taskValues here: Databricks sets task values only "
                                       "from a notebook; run the planner as the bundle does, from "
                                       "notebooks/fanout_plan.py")
        return
    assert done.code == 0, done.stdout + done.stderr
    published = json.loads(values.read_text(encoding="utf-8"))
    assert [s["name"] for s in published["slices"]] == ["demo", "shop"]
    assert json.loads(done.stdout.splitlines()[-2])["slices"] == published["slices"]
