"""Docs that cannot drift: every column documented, every command with help, the schema up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlt_ingest.cli import app
from dlt_ingest.config.columns import COLUMNS
from dlt_ingest.config.schema import render_json_schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("column", [c.name for c in COLUMNS])
def test_every_column_is_documented_in_the_configuration_reference(column: str) -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert f"| `{column}` |" in text


def test_config_schema_json_is_generated_from_the_model() -> None:
    committed = (ROOT / "config" / "config_schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run: python scripts/generate_config_schema.py"


@pytest.mark.parametrize("command", sorted(c.name or "" for c in app.registered_commands))
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in text and "./scripts/test" in text
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
