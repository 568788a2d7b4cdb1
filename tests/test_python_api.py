"""The library core called directly, as a notebook or the Databricks entry does: no CLI in between."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from dlt.common.runtime.collector import Collector

import dlt_ingest
from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS


class Recorder:
    """A `RunObserver` that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def run_started(self, jobs: Sequence[dlt_ingest.Job]) -> None:
        self.events.append(f"run {len(jobs)}")

    def job_started(self, job: dlt_ingest.Job, attempt: int) -> None:
        self.events.append(f"start {job.name} {attempt}")

    def job_finished(self, result: dlt_ingest.JobResult) -> None:
        self.events.append(f"end {result.job.name} {result.status.value}")

    def collector(self, job: dlt_ingest.Job) -> Collector | None:
        return None


def test_run_returns_a_report_and_a_failing_job_is_a_result_not_an_exception(project: Project) -> None:
    project.write_workbook([*DEMO_ROWS[1:], {**DEMO_ROWS[1], "table_name": "no_such_table"}])
    observer = Recorder()
    report = dlt_ingest.run(dlt_ingest.RunOptions(), observer)
    assert report.exit_code == 1
    assert [(r.job.name, r.status) for r in report.results] == [
        ("demo.customers", dlt_ingest.JobStatus.SUCCESS), ("demo.products", dlt_ingest.JobStatus.SUCCESS),
        ("demo.no_such_table", dlt_ingest.JobStatus.FAILED)]
    assert report.results[0].rows == 500 and report.total_rows == 620
    assert report.results[2].error.startswith("table 'no_such_table' not found")
    assert observer.events == ["run 3", "start demo.customers 1", "end demo.customers SUCCESS",
                               "start demo.products 1", "end demo.products SUCCESS",
                               "start demo.no_such_table 1", "end demo.no_such_table FAILED"]
    assert [row["job_name"] for row in project.audit_rows()] == [r.job.name for r in report.results]


def test_bad_input_raises_a_config_error_before_anything_runs(project: Project) -> None:
    project.write_workbook([{**DEMO_ROWS[1], "load_type": "SOMETIMES"}])
    with pytest.raises(dlt_ingest.ConfigError) as raised:
        dlt_ingest.run(dlt_ingest.RunOptions())
    assert raised.value.exit_code == 2
    assert "SourceConfig!" in str(raised.value) and "load_type" in str(raised.value)
    assert not (project.path / "metadata").exists() and not (project.path / "lake").exists()


def test_plan_and_load_jobs_read_the_workbook_of_another_folder(project: Project, tmp_path: object,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    project.write_workbook(DEMO_ROWS)
    monkeypatch.chdir(project.path.parent)  # the project is not the current folder
    workbook = dlt_ingest.load_jobs(project_dir=project.path)
    assert [job.name for job in workbook.jobs] == ["demo.orders", "demo.customers", "demo.products"]
    planned = dlt_ingest.plan(dlt_ingest.RunOptions(project_dir=project.path, select=["demo.orders"]))
    assert [(p.job.name, p.watermark_start) for p in planned] == [
        ("demo.orders", "updated_at >= 2024-01-01 00:00:00 (workbook; the lake's state wins if present)")]
    assert planned[0].target_folder.startswith((project.path / "lake" / "demo" / "orders").as_uri())
