"""Docs that cannot drift: every column documented, every command with help, the schema up to date."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlt_ingest.cli.app import app
from dlt_ingest.records.audit import AUDIT_COLUMNS
from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook.columns import COLUMNS
from dlt_ingest.workbook.schema import render_json_schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("column", [c.name for c in COLUMNS])
def test_every_column_is_documented_in_the_configuration_reference(column: str) -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert f"| `{column}` |" in text


def test_config_schema_json_is_generated_from_the_model() -> None:
    committed = (ROOT / "config" / "config_schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(REGISTRY.known_types()), "run: python scripts/generate_config_schema.py"


@pytest.mark.parametrize("command", sorted(c.name or "" for c in app.registered_commands))
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in text and "./scripts/test" in text
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _relative_links() -> list[tuple[str, str]]:
    import re

    links = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not target.startswith("mailto:"):
                links.append((page.relative_to(ROOT).as_posix(), target))
    return links


@pytest.mark.parametrize(("page", "target"), _relative_links())
def test_every_relative_link_in_the_docs_resolves(page: str, target: str) -> None:
    assert ((ROOT / page).parent / target).exists(), f"{page} links to missing {target}"


def test_the_python_api_example_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "['demo.orders', 'demo.customers', 'demo.products']"
    assert "demo.orders SUCCESS 3000 demo/orders/" in done.stdout
    assert lines[-1] == ("lake: ['_dlt_loads', '_dlt_pipeline_state', '_dlt_version', 'customers', 'init', 'orders', "
                         "'products']")


# --- docs that must agree with the product ------------------------------------------------------------------

def _doc(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def _options(*command: str) -> set[str]:
    import typer

    click_command = typer.main.get_command(app)
    for name in command:
        click_command = click_command.commands[name]  # type: ignore[attr-defined]
    return {opt for param in click_command.params for opt in param.opts if opt.startswith("--")} - {"--help"}


def test_run_options_in_operations_md_are_the_run_commands_options() -> None:
    section = _section(_doc("operations.md"), "## `ingest run`")
    synopsis = set(re.findall(r"--[a-z-]+", section.split("```", 2)[1]))
    table = {opt for line in section.splitlines() if line.startswith("| `--")
             for opt in re.findall(r"--[a-z-]+", line.split("|")[1])}
    assert synopsis == _options("run"), "the synopsis of docs/operations.md#ingest-run"
    assert table == _options("run"), "the options table of docs/operations.md#ingest-run"


@pytest.mark.parametrize("command", ["status", "test-connections"])
def test_other_synopses_in_operations_md_name_each_option(command: str) -> None:
    synopsis = _section(_doc("operations.md"), f"## `ingest {command}`").split("```", 2)[1]
    assert set(re.findall(r"--[a-z-]+", synopsis)) == _options(command)


def test_source_types_in_configuration_md_are_the_registered_ones() -> None:
    row = next(line for line in _doc("configuration.md").splitlines() if line.startswith("| `source_type` |"))
    listed = re.findall(r"`(\w+)`", row.split("|")[4].split("(", 1)[0])
    assert sorted(listed) == REGISTRY.known_types()


def test_cell_locations_in_the_docs_are_the_templates_columns() -> None:
    from openpyxl.utils import get_column_letter

    letters = {c.name: get_column_letter(i) for i, c in enumerate(COLUMNS, start=1)}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for letter, column in re.findall(r"SourceConfig!([A-Z]+)\d+ (\w+):", page.read_text(encoding="utf-8")):
            assert letters[column] == letter, f"{page.name}: {column} is column {letters[column]}, not {letter}"


def test_file_names_in_the_docs_follow_the_layout() -> None:
    from dlt_ingest.destinations.filesystem.lake import DEFAULT_LAYOUT

    assert DEFAULT_LAYOUT.endswith("/{load_id}.{file_id}.{ext}")
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for name in re.findall(r"(?<!__)<load_id>\.[^\s`)]+", text):  # data files (not `<pipeline>__<load_id>.jsonl`)
            assert name == "<load_id>.<file_id>.parquet", f"{page.name}: {name}"
        for name in re.findall(r"\{load_id\}\.[^\s`)]+", text):
            assert name in ("{load_id}.{file_id}.{ext}", "{load_id}.{file_id}.parquet"), f"{page.name}: {name}"


def test_every_paginator_is_named_in_the_column_help_and_the_reference() -> None:
    from dlt_ingest.sources.api.options import PAGINATOR_TYPES
    from dlt_ingest.workbook.columns import COLUMNS_BY_NAME

    row = next(line for line in _doc("configuration.md").splitlines() if line.startswith("| `paginator` |"))
    for name in PAGINATOR_TYPES:
        assert name in COLUMNS_BY_NAME["paginator"].description, f"the Instructions sheet misses {name}"
        assert f"`{name}`" in row, f"docs/configuration.md misses {name}"


@pytest.mark.parametrize("column", AUDIT_COLUMNS)
def test_every_audit_column_is_documented_in_operations_md(column: str) -> None:
    table = _section(_doc("operations.md"), "## The audit")
    assert re.search(rf"^\| [^|]*`{column}`", table, re.MULTILINE), f"docs/operations.md lacks {column}"
