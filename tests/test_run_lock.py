"""Two `ingest run` processes on the same workbook and lake: never both loading the same job."""

from __future__ import annotations

import re

import pytest

from conftest import Project
from test_interrupts import BIG_ROWS, _add_big_table, _start_run, _wait_for_log

BIG = {"source_type": "sqlite", "source_name": "demo", "table_name": "big", "load_type": "INCREMENTAL",
       "watermark_column": "updated_at", "primary_key": "id", "chunk_size": 2000, "enabled": "Y"}
PRODUCTS = {"source_type": "sqlite", "source_name": "demo", "table_name": "products", "load_type": "FULL",
            "enabled": "Y"}


@pytest.mark.slow
def test_second_run_refuses_a_job_the_first_is_loading_and_names_it(project: Project) -> None:
    _add_big_table(project.path / "data" / "demo.sqlite")
    project.write_workbook([BIG, PRODUCTS])
    first = _start_run(project, "--select", "demo.big")
    try:
        _wait_for_log(project, "Starting job: demo.big", first)
        second = project.ingest("run")  # wants demo.big too
        assert second.exit_code == 2
        assert re.fullmatch(
            r"Error: job demo\.big is being loaded by another ingest run \(pid \d+, started [\d\- :]+\): "
            r"wait for it to finish, or --exclude 'demo\.big'", second.stderr.strip()), second.stderr
        disjoint = project.ingest("run", "--select", "demo.products")  # other jobs may run side by side
    finally:
        output = first.communicate(timeout=300)[0].decode()
    assert first.returncode == 0, output
    assert disjoint.exit_code == 0, disjoint.output
    big = project.read_lake("demo", "big")
    assert big.num_rows == len(set(big["id"].to_pylist())) == BIG_ROWS
    jobs = [r["job_name"] for r in project.audit_rows()]
    assert jobs.count("demo.big") == 1
