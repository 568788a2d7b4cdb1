"""A run that died between normalize and load leaves a pending package: the next run completes it first."""

from __future__ import annotations

import shutil
from pathlib import Path

import dlt

from conftest import Project
from demo_changes import add_new_orders
from dlt_ingest import load_jobs
from dlt_ingest.destinations.filesystem.lake import lake_target
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook.template import DEMO_ROWS

ORDERS = next(r for r in DEMO_ROWS if r["table_name"] == "orders")


def _leave_pending_package(project: Project) -> str:
    """Extract and normalize the job exactly as `ingest run` would, then stop before loading."""
    [job] = load_jobs(project.workbook).jobs
    module = REGISTRY.get(job.source_type)
    credentials = resolve_source_credentials(module.credentials_spec, job.source_name)
    pipeline = dlt.pipeline(pipeline_name=job.pipeline_name, destination=lake_target().destination(),
                            dataset_name=job.dataset_name, pipelines_dir=str(Path(".dlt/pipelines").resolve()))
    source_session = module.open_session(credentials.config, [job])
    try:
        with module.prepare(job, source_session) as prepared:
            pipeline.extract(prepared.data, loader_file_format="parquet", write_disposition="append")
    finally:
        source_session.close()
    pipeline.normalize()
    [load_id] = pipeline.list_normalized_load_packages()
    return load_id


def test_next_run_completes_the_pending_package_and_still_loads_every_row_once(project: Project) -> None:
    project.write_workbook([ORDERS])
    assert project.ingest("run").exit_code == 0
    add_new_orders(project.path / "data" / "demo.sqlite", 25, "2030-01-01 00:00:00")
    load_id = _leave_pending_package(project)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    row = project.audit_rows()[-1]
    assert f"completed load package(s) {load_id} left pending by an earlier run" in row["warnings"]
    assert row["rows_processed"] == "0"  # the 25 new rows came with the completed package
    ids = project.read_lake("demo", "orders")["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 3025
    assert any(f.name.startswith(load_id) for f in project.lake_files("demo", "orders"))


def test_pending_full_snapshot_is_completed_and_the_new_snapshot_follows(project: Project) -> None:
    project.write_workbook([r for r in DEMO_ROWS if r["table_name"] == "products"])
    assert project.ingest("run").exit_code == 0
    load_id = _leave_pending_package(project)
    assert project.ingest("run").exit_code == 0
    files = project.lake_files("demo", "products")
    load_ids = sorted({".".join(f.name.split(".")[:2]) for f in files})
    assert len(load_ids) == 3 and load_ids[1] == load_id
    assert project.read_lake("demo", "products").num_rows == 3 * 120
    completed = list((project.path / "lake" / "demo" / "_dlt_loads").glob("*.jsonl"))
    assert {p.name.split("__")[1].rsplit(".", 1)[0] for p in completed} >= set(load_ids)


def test_state_of_a_load_that_never_completed_is_not_restored_after_the_working_folder_is_lost(
    project: Project,
) -> None:
    """The crash window between dlt uploading a load's state and writing its completion record."""
    project.write_workbook([ORDERS])
    assert project.ingest("run").exit_code == 0
    add_new_orders(project.path / "data" / "demo.sqlite", 25, "2030-01-01 00:00:00")
    assert project.ingest("run").exit_code == 0
    loads = sorted((project.path / "lake" / "demo" / "_dlt_loads").glob("*.jsonl"))
    loads[-1].unlink()  # the second load's files and state are in the lake, its completion record is not
    shutil.rmtree(project.path / ".dlt" / "pipelines")  # ... and the machine's working folder is gone

    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    warnings = project.audit_rows()[-1]["warnings"]
    assert "ignored 1 stored state(s) of a load that never completed" in warnings
    assert "removed 1 file(s) of a load that never completed" in warnings
    ids = project.read_lake("demo", "orders")["id"].to_pylist()  # a naive reader: every file
    assert len(ids) == len(set(ids)) == 3025
