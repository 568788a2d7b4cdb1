"""Docs that cannot drift: every column documented, every command with help, the schema up to date."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlt_ingest.cli.app import app
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
