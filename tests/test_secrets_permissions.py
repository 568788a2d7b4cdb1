"""A `.dlt/secrets.toml` that group or others can read gets a warning with the fix."""

from __future__ import annotations

import os

import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_readable_secrets_file_is_warned_about(project: Project, mode: int, warned: bool) -> None:
    project.write_workbook(DEMO_ROWS[2:])
    project.append_config('[sources.unused]\npassword = "not-used"', "secrets.toml")
    path = project.path / ".dlt" / "secrets.toml"
    os.chmod(path, mode)
    expected = f"warning: {path} can be read by other users"
    validate = project.ingest("validate-config")
    run = project.ingest("run")
    assert validate.exit_code == 0 and run.exit_code == 0
    assert (expected in validate.stderr) is warned
    assert (f"chmod 600 {path}" in run.stdout) is warned
