"""dlt's lookups of one pipeline's stored state and schema read only that pipeline's file names: the right
files among those of pipelines whose names share a prefix, no per-file request however many pipelines share
the dataset's folders (what made a run of N tables cost O(N^2)), the same answers on local disk and Azurite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest
from fsspec.implementations.local import LocalFileSystem

from conftest import Project
from dlt_ingest.destinations.filesystem.lake import lake_target
from dlt_ingest.destinations.filesystem.listing import own_file_names

NEIGHBOURS = ("ingest_a", "ingest_a_b", "ingest_ab", "ingest_a_b_c")  # prefixes of one another, as job names give


def _load(name: str, value: int, pipelines_dir: Path) -> dlt.Pipeline:
    pipeline = dlt.pipeline(pipeline_name=name, destination=lake_target().destination(), dataset_name="shared",
                            pipelines_dir=str(pipelines_dir))

    @dlt.resource(name="rows", write_disposition="append")
    def rows() -> Any:
        dlt.current.resource_state()["value"] = value
        yield {"id": value}

    pipeline.run(rows(), loader_file_format="parquet")
    return pipeline


def _restored_value(name: str, pipelines_dir: Path) -> Any:
    pipeline = dlt.pipeline(pipeline_name=name, destination=lake_target().destination(), dataset_name="shared",
                            pipelines_dir=str(pipelines_dir))
    pipeline.sync_destination()
    return pipeline.state["sources"][name]["resources"]["rows"]["value"]


@pytest.mark.parametrize("owner", ["ingest_a", "ingest_a_"])
def test_only_the_owners_file_names_are_kept(owner: str) -> None:
    names = [f"{n}__1796000000.{i}__abc.jsonl" for n in (*NEIGHBOURS, "ingest_a_") for i in range(2)] + [
        f".{owner}__1796000001.0__abc.jsonl.partial", "init"]
    assert [parts for _, parts in own_file_names(names, owner)] == [
        [owner, "1796000000.0", "abc"], [owner, "1796000000.1", "abc"]]


def test_each_pipeline_restores_its_own_state_and_schema_among_neighbours(project: Project, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for round_no in range(2):
        for position, name in enumerate(NEIGHBOURS):
            _load(name, 10 * round_no + position, tmp_path / "first")
    calls: list[str] = []
    real_info = LocalFileSystem.info
    monkeypatch.setattr(LocalFileSystem, "info", lambda self, path, **kw: calls.append(path) or real_info(
        self, path, **kw))
    for position, name in enumerate(NEIGHBOURS):  # a fresh working folder: everything comes from the lake
        assert _restored_value(name, tmp_path / "fresh") == 10 + position
        schema = dlt.pipeline(pipeline_name=name, pipelines_dir=str(tmp_path / "fresh")).default_schema
        assert schema.name == name and "rows" in schema.tables
    assert not [c for c in calls if "/_dlt_pipeline_state/" in c or "/_dlt_version/" in c]  # names only, no stat


def test_a_pipeline_new_to_the_dataset_restores_nothing(project: Project, tmp_path: Path) -> None:
    _load("ingest_a_b", 1, tmp_path / "first")
    pipeline = dlt.pipeline(pipeline_name="ingest_a", destination=lake_target().destination(),
                            dataset_name="shared", pipelines_dir=str(tmp_path / "fresh"))
    pipeline.sync_destination()
    assert pipeline.state.get("sources", {}) == {}
    assert pipeline.first_run


def test_states_beyond_the_kept_number_are_trimmed_per_pipeline(project: Project, tmp_path: Path) -> None:
    for value in range(12):
        _load("ingest_a", value, tmp_path / "first")
    _load("ingest_a_b", 0, tmp_path / "first")
    folder = project.path / "lake" / "shared" / "_dlt_pipeline_state"
    mine = [p for p in folder.iterdir() if p.name.startswith("ingest_a__")]
    assert len(mine) == 10  # [destination.filesystem] max_state_files, dlt-ingest's default
    assert len([p for p in folder.iterdir() if p.name.startswith("ingest_a_b__")]) == 1
    assert _restored_value("ingest_a", tmp_path / "fresh") == 11
