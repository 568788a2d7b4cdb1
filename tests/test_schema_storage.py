"""A pipeline's schema is read from its file again exactly when the file changed (dlt's answers, fewer reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.common.schema import Schema
from dlt.common.storages.live_schema_storage import LiveSchemaStorage

from dlt_ingest.engine.schema_storage import KeptSchemaStorage, keep_loaded_schemas


@pytest.fixture
def pipeline(tmp_path: Path) -> dlt.Pipeline:
    made = dlt.pipeline(pipeline_name="kept_schema", destination=dlt.destinations.filesystem(str(tmp_path / "lake")),
                        dataset_name="kept", pipelines_dir=str(tmp_path / "pipelines"))
    made.extract([{"id": 1, "name": "a"}], table_name="items")  # a committed schema file in the working folder
    keep_loaded_schemas(made)
    return made


def count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    plain = LiveSchemaStorage.load_schema

    def counting(self: Any, name: str) -> Schema:
        loads.append(name)
        return plain(self, name)

    monkeypatch.setattr(LiveSchemaStorage, "load_schema", counting)
    return loads


def test_an_unchanged_schema_file_is_read_once(pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = count_loads(monkeypatch)
    first = pipeline.default_schema
    for _ in range(5):
        assert pipeline.default_schema is first
    assert len(loads) <= 1
    assert "items" in first.tables


def test_a_schema_file_written_by_someone_else_is_read_again(pipeline: dlt.Pipeline) -> None:
    schema = pipeline.default_schema
    other = LiveSchemaStorage(pipeline._schema_storage.config)  # another writer of the same working folder
    changed = other.load_schema(schema.name)
    changed.update_table({"name": "added_elsewhere", "columns": {"x": {"name": "x", "data_type": "bigint"}}})
    other.save_schema(changed)
    assert "added_elsewhere" in pipeline.default_schema.tables


def test_a_live_schema_changed_in_memory_is_answered_as_dlt_answers(pipeline: dlt.Pipeline) -> None:
    schema = pipeline.default_schema
    schema.update_table({"name": "in_memory", "columns": {"y": {"name": "y", "data_type": "text"}}})
    assert "in_memory" in pipeline.default_schema.tables  # modified: dlt keeps the live content
    schema._bump_version()  # now "committed" although its file lacks the table: dlt reads the file again
    plain = LiveSchemaStorage(pipeline._schema_storage.config)
    plain.live_schemas = {schema.name: schema.clone()}
    assert ("in_memory" in plain[schema.name].tables) == ("in_memory" in pipeline.default_schema.tables)


def test_the_kept_storage_survives_a_run_and_a_dropped_pipeline_gets_dlts_own(pipeline: dlt.Pipeline) -> None:
    assert isinstance(pipeline._schema_storage, KeptSchemaStorage)
    pipeline.normalize()
    pipeline.load()
    assert pipeline.default_schema.tables["items"]["columns"]["name"]["data_type"] == "text"
    dropped = pipeline.drop()
    assert type(dropped._schema_storage) is LiveSchemaStorage
