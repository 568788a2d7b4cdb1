"""Hostile names and paths: refused at validation or safely quoted; nothing leaves the lake or the API host."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import Project
from dlt_ingest import load_jobs
from dlt_ingest.errors import WorkbookValidationError
from test_workbook_validation import make_workbook, row

HOSTILE_NAMES = [
    pytest.param("orders'; DROP TABLE users; --", "contains", id="sql-injection"),
    pytest.param('or"ders', "contains", id="double-quote"),
    pytest.param("../../etc/passwd", "path separator", id="dot-dot"),
    pytest.param("a/b", "path separator", id="slash"),
    pytest.param("a%2Fb", "path separator", id="encoded-slash"),
    pytest.param("a%2fb", "path separator", id="encoded-slash-lower"),
    pytest.param("orders\tx", "contains", id="tab-control-char"),
    pytest.param("ｏｒｄｅｒｓ", "look-alike", id="fullwidth-lookalike"),
    pytest.param("ﬁle", "look-alike", id="ligature-lookalike"),
    pytest.param("x" * 500, "characters long", id="very-long"),
    pytest.param("back\\slash", "contains", id="backslash"),
]


@pytest.mark.parametrize("column", ["table_name", "schema_name", "watermark_column", "primary_key"])
@pytest.mark.parametrize(("value", "reason"), HOSTILE_NAMES)
def test_hostile_names_are_refused_at_validation(tmp_path: Path, column: str, value: str, reason: str) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [row(**{column: value})])
    with pytest.raises(WorkbookValidationError) as caught:
        load_jobs(path)
    [problem] = caught.value.problems
    assert problem.column == column
    assert reason in problem.message


HOSTILE_ENDPOINTS = [
    pytest.param("http://attacker.example/steal", "points to another host", id="absolute-url"),
    pytest.param("//attacker.example/steal", "points to another host", id="scheme-relative"),
    pytest.param("user@attacker.example/x", "points to another host", id="userinfo"),
    pytest.param("https:attacker.example", "points to another host", id="scheme-no-slashes"),
    pytest.param("../admin/users", "climbs out", id="dot-dot"),
    pytest.param("items/%2e%2e/%2e%2e/admin", "climbs out", id="encoded-dot-dot"),
    pytest.param("items/%252e%252e/admin", "climbs out", id="double-encoded-dot-dot"),
    pytest.param("items\\..\\admin", "climbs out", id="backslash-dot-dot"),
    pytest.param("items#fragment", "contains control characters, '#'", id="fragment"),
    pytest.param("items\r\nX-Injected: 1", "contains control characters", id="header-injection"),
]


def _api_row(endpoint: str) -> dict[str, Any]:
    return {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": endpoint,
            "load_type": "FULL", "enabled": "Y"}


@pytest.mark.parametrize(("endpoint", "reason"), HOSTILE_ENDPOINTS)
def test_hostile_api_paths_are_refused_and_nothing_is_requested(project: Project, endpoint: str,
                                                               reason: str) -> None:
    project.append_config('[sources.shop]\nbase_url = "http://127.0.0.1:9/api"', "secrets.toml")
    project.write_workbook([_api_row(endpoint)])
    validate = project.ingest("validate-config")
    assert validate.exit_code == 2
    assert "SourceConfig!" in validate.stderr and "api_endpoint" in validate.stderr and reason in validate.stderr
    run = project.ingest("run")
    assert run.exit_code == 2
    assert not (project.path / "lake").exists() and not (project.path / "logs").exists()


def test_names_with_spaces_case_and_unicode_are_quoted_and_stay_inside_the_lake(project: Project) -> None:
    table = "Bestellungen Ünïcode Mixed"
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, "Straße Name" TEXT)')
        connection.executemany(f'INSERT INTO "{table}" VALUES (?, ?)', [(1, "a"), (2, "ß")])
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": table,
                             "load_type": "FULL", "enabled": "Y"}])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    lake = (project.path / "lake").resolve()
    working = (project.path / ".dlt").resolve()
    written = [p.resolve() for p in project.path.rglob("*.parquet") if not p.resolve().is_relative_to(working)]
    assert written and all(p.is_relative_to(lake) for p in written)
    folder = {p.relative_to(lake).parts[1] for p in written}
    assert folder == {"bestellungen_n_code_mixed"}  # dlt's snake_case drops non-ASCII letters
    data = project.read_lake("demo", "bestellungen_n_code_mixed")
    assert sorted(data["stra_e_name"].to_pylist()) == ["a", "ß"]
    assert not list(working.rglob("completed_jobs/*.parquet"))  # no local copy of loaded files is kept
