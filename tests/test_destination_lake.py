"""The lake layout, FULL snapshots and state restored from the lake: each case on local disk and on Azurite
(as az:// and as abfss://), driven through `ingest run`."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest

from conftest import Project
from demo_changes import add_new_orders
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import AzuriteLake, LocalLake, local_dlt_folders

DAY_1, DAY_2 = "2026-02-11T10:00:00Z", "2026-02-12T10:00:00Z"
FILE_NAME = r"\d+\.\d+\.[0-9a-f]+\.parquet"


@pytest.fixture(params=["local", "az", "abfss"])
def lake(request: pytest.FixtureRequest, project: Project) -> Any:
    if request.param == "local":
        return LocalLake(project)
    return AzuriteLake(project, request.getfixturevalue("azurite"), request.param)


def on_day(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    """Simulate the run date: the date folders come from dlt's `current_datetime`."""
    monkeypatch.setenv("DESTINATION__FILESYSTEM__CURRENT_DATETIME", day)


def test_run_writes_the_guide_layout_and_audits_the_written_folder(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write_workbook(DEMO_ROWS)
    on_day(monkeypatch, DAY_2)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    expected_rows = {"orders": 3000, "customers": 500, "products": 120}
    for table, rows in expected_rows.items():
        files = lake.files("demo", table)
        assert len(files) == 1
        assert re.fullmatch(rf"demo/{table}/2026/02/12/{FILE_NAME}", files[0]), files[0]
        assert lake.read("demo", table).num_rows == rows
    audit = {r["job_name"]: r["partition_path"] for r in project.audit_rows()}
    assert audit == {f"demo.{t}": f"demo/{t}/2026/02/12" for t in expected_rows}
    if isinstance(lake, AzuriteLake):  # the key is in the connection string too: no local file may hold it
        assert lake.azurite.key not in result.output + project.all_output_text()


def test_full_snapshots_of_two_days_are_both_kept(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write_workbook(DEMO_ROWS)
    for day in (DAY_1, DAY_2):
        on_day(monkeypatch, day)
        assert project.ingest("run", "--select", "demo.products").exit_code == 0
    files = lake.files("demo", "products")
    assert [f.rsplit("/", 1)[0] for f in files] == ["demo/products/2026/02/11", "demo/products/2026/02/12"]
    assert len({".".join(f.rsplit("/", 1)[1].split(".")[:2]) for f in files}) == 2  # two load ids
    assert lake.read("demo", "products").num_rows == 240


def test_incremental_run_after_wiping_local_state_loads_only_new_rows(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write_workbook(DEMO_ROWS)
    on_day(monkeypatch, DAY_1)
    assert project.ingest("run", "--select", "demo.orders").exit_code == 0
    add_new_orders(project.path / "data" / "demo.sqlite", 25, "2030-01-01 00:00:00")
    for folder in local_dlt_folders(project):
        assert folder.exists()
        shutil.rmtree(folder)  # a fresh job cluster: only the lake remembers
    on_day(monkeypatch, DAY_2)
    second = project.ingest("run", "--select", "demo.orders")
    assert second.exit_code == 0, second.output
    audit = project.audit_rows()
    assert [r["rows_processed"] for r in audit] == ["3000", "25"]
    assert audit[1]["watermark_start"] == audit[0]["watermark_end"]
    assert audit[1]["partition_path"] == "demo/orders/2026/02/12"
    orders = lake.read("demo", "orders")
    assert orders.num_rows == 3025
    assert len(set(orders["id"].to_pylist())) == 3025


def test_jobs_of_one_source_starting_together_in_a_new_lake_all_find_the_dataset_ready(project: Project) -> None:
    """dlt creates a dataset folder with a makedirs that fails if it exists; jobs sharing it must not race."""
    import threading

    import dlt

    from dlt_ingest.destinations.filesystem.lake import LakeTarget

    lake = LakeTarget(bucket_url=(project.path / "lake").as_uri())
    start, errors = threading.Barrier(6), []

    def job(n: int) -> None:
        pipeline = dlt.pipeline(pipeline_name=f"race_{n}", destination=lake.destination(), dataset_name="shop",
                                pipelines_dir=str(project.path / ".dlt" / "pipelines"))
        start.wait()
        try:
            lake.ensure_dataset(pipeline)
        except Exception as exc:  # collected: a thread's exception would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (project.path / "lake" / "shop" / "init").exists()


def test_incremental_run_with_nothing_new_after_wiping_local_state_reads_the_lake_and_builds_no_pipeline(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write_workbook(DEMO_ROWS)
    on_day(monkeypatch, DAY_1)
    assert project.ingest("run", "--select", "demo.orders").exit_code == 0
    for folder in local_dlt_folders(project):
        shutil.rmtree(folder)
    files = lake.files("demo", "orders")
    second = project.ingest("run", "--select", "demo.orders")
    assert second.exit_code == 0, second.output
    first, again = project.audit_rows()
    assert (again["status"], again["rows_processed"], again["reconciliation"]) == ("SUCCESS", "0", "MATCH")
    assert again["watermark_start"] == again["watermark_end"] == first["watermark_end"]
    assert again["schema_version"] == first["schema_version"]
    assert [p.name for p in (project.path / ".dlt" / "pipelines").iterdir()] == ["locks"]  # no pipeline built
    assert lake.files("demo", "orders") == files
    add_new_orders(project.path / "data" / "demo.sqlite", 25, "2030-01-01 00:00:00")
    assert project.ingest("run", "--select", "demo.orders").exit_code == 0
    assert project.audit_rows()[-1]["rows_processed"] == "25"
    assert lake.read("demo", "orders").num_rows == 3025
