"""`ingest init` and how the project folder is found: a run writes into its project wherever it is started
from, and every message about a missing file or secret names the folder it looked in."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import Project
from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook.columns import COLUMNS, SHEET_NAME

NEW_FILES = ["config/ingestion_config.xlsx", ".dlt/config.toml", ".dlt/secrets.toml", ".gitignore"]


def workbook_rows(path: Path) -> list[dict[str, object]]:
    book = load_workbook(path)
    try:
        sheet = book[SHEET_NAME]
        header = [c.value for c in sheet[1]]
        return [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    finally:
        book.close()


def enable(path: Path, source_type: str, **changes: object) -> None:
    """Edit the workbook as an analyst would: enable the example row of `source_type`, change some cells."""
    book = load_workbook(path)
    sheet = book[SHEET_NAME]
    letters = {c.value: c.column for c in sheet[1]}
    for row in sheet.iter_rows(min_row=2):
        if row[letters["source_type"] - 1].value == source_type:
            row[letters["enabled"] - 1].value = "Y"
            for name, value in changes.items():
                row[letters[name] - 1].value = value
    book.save(path)
    book.close()


def test_init_creates_a_project_where_nothing_runs_by_accident(project: Project, tmp_path: Path) -> None:
    result = project.ingest("init", str(tmp_path / "sales"))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "sales"
    assert [f"  wrote {name}" for name in NEW_FILES] == [line for line in result.stdout.splitlines()
                                                          if line.startswith("  wrote ")]
    assert "Next steps:" in result.stdout and f"ingest run --project-dir {folder}" in result.stdout
    assert stat.S_IMODE((folder / ".dlt" / "secrets.toml").stat().st_mode) == 0o600
    assert ".dlt/secrets.toml" in (folder / ".gitignore").read_text(encoding="utf-8").splitlines()
    rows = workbook_rows(folder / "config" / "ingestion_config.xlsx")
    assert sorted(r["source_type"] for r in rows) == REGISTRY.known_types()  # one example per source type
    assert {r["enabled"] for r in rows} == {"N"}
    secrets = (folder / ".dlt" / "secrets.toml").read_text(encoding="utf-8")
    for row in rows:
        assert f"# [sources.{row['source_name']}]" in secrets
    validated = project.ingest("validate-config", "--project-dir", str(folder))
    assert validated.exit_code == 0, validated.output
    assert project.ingest("run", "--project-dir", str(folder)).exit_code == 2  # nothing enabled yet
    assert not (folder / "lake").exists()


def test_init_keeps_every_file_that_exists(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "sales"
    assert project.ingest("init", str(folder)).exit_code == 0
    (folder / ".dlt" / "secrets.toml").write_text("[sources.pg]\npassword = 'mine'\n", encoding="utf-8")
    again = project.ingest("init", str(folder))
    assert again.exit_code == 0
    assert [f"  kept  {name} (it already existed)" for name in NEW_FILES] == [
        line for line in again.stdout.splitlines() if line.startswith("  kept")]
    assert (folder / ".dlt" / "secrets.toml").read_text(encoding="utf-8") == "[sources.pg]\npassword = 'mine'\n"


@pytest.fixture
def new_project(project: Project, tmp_path: Path, demo_database: Path) -> Path:
    """A project made by `ingest init`, its sqlite example enabled against a copy of the demo database."""
    folder = tmp_path / "proj"
    assert project.ingest("init", str(folder)).exit_code == 0
    (folder / "data").mkdir()
    shutil.copy(demo_database, folder / "data" / "shop.sqlite")
    with (folder / ".dlt" / "config.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[sources.local_file]\ndatabase = "data/shop.sqlite"\n')
    enable(folder / "config" / "ingestion_config.xlsx", "sqlite")
    return folder


def _outputs(folder: Path) -> set[str]:
    return {name for name in ("lake", "logs", "metadata") if (folder / name).exists()}


def test_a_run_from_another_folder_writes_into_the_project_of_its_workbook(
        project: Project, new_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    result = project.ingest("run", "--config", str(new_project / "config" / "ingestion_config.xlsx"))
    assert result.exit_code == 0, result.output
    assert _outputs(new_project) == {"lake", "logs", "metadata"} and _outputs(home) == set()
    assert list((new_project / "lake" / "local_file" / "orders").rglob("*.parquet"))
    log = next((new_project / "logs").glob("main_orchestrator_*.log")).read_text(encoding="utf-8")
    assert f"project folder {new_project}" in log


@pytest.mark.parametrize("how", ["project-dir", "environment", "a-subfolder"])
def test_the_project_is_found_by_option_environment_or_from_inside_it(
        project: Project, new_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(new_project / "config" if how == "a-subfolder" else elsewhere)
    args = ("--project-dir", str(new_project)) if how == "project-dir" else ()
    if how == "environment":
        monkeypatch.setenv("INGEST_PROJECT_DIR", str(new_project))
    result = project.ingest("run", *args)
    assert result.exit_code == 0, result.output
    assert _outputs(new_project) == {"lake", "logs", "metadata"} and _outputs(elsewhere) == set()
    status = project.ingest("status", *args)
    assert status.exit_code == 0 and "local_file.orders" in status.stdout


def test_dlts_own_settings_folder_in_the_home_folder_is_no_project(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "user"
    (home / ".dlt").mkdir(parents=True)  # dlt's global settings, e.g. ~/.dlt/config.toml
    (home / "work").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home / "work")
    result = project.ingest("validate-config")
    assert result.exit_code == 2
    assert f"(looked in {home / 'work' / 'config'})" in result.stderr


def test_a_missing_secret_names_the_folder_it_looked_in(project: Project, new_project: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    enable(new_project / "config" / "ingestion_config.xlsx", "postgresql")
    monkeypatch.chdir(tmp_path)
    result = project.ingest("run", "--project-dir", str(new_project), "--select", "postgres.*")
    assert result.exit_code == 1
    audit = (new_project / "metadata").glob("audit_*.csv")
    text = "".join(path.read_text(encoding="utf-8") for path in audit)
    assert f"Add them to {new_project / '.dlt' / 'secrets.toml'} under [sources.postgres]" in text
    assert f"the project folder is {new_project}" in text


def test_the_instructions_sheet_lists_every_column_and_the_enabled_choices(project: Project) -> None:
    assert project.ingest("init-config", "new.xlsx").exit_code == 0
    book = load_workbook(project.path / "new.xlsx")
    try:
        lines = [row[0].value or "" for row in book["Instructions"].iter_rows()]
        for column in COLUMNS:
            assert any(line.strip().startswith(f"{column.name}: ") for line in lines), column.name
        validation = next(v for v in book[SHEET_NAME].data_validations.dataValidation if "I2" in str(v.sqref))
        assert validation.formula1 == '"Y,N,yes,no,true,false,1,0"'
    finally:
        book.close()


BROKEN_TOML = [
    pytest.param("config.toml", "[sources.demo]\nbackend = \"pyarrow\"\n", 'Key "demo" already exists', id="twice"),
    pytest.param("secrets.toml", "[sources.pg]\npassword = s3cr3t-Canary\n", "at line 3", id="unquoted-secret"),
    pytest.param("secrets.toml", "[sources.pg\npassword = \"s3cr3t-Canary\"\n", "at line 2", id="unclosed-section"),
]


@pytest.mark.parametrize(("file", "text", "reason"), BROKEN_TOML)
@pytest.mark.parametrize("command", [["run"], ["validate-config"], ["status"]])
def test_a_dlt_settings_file_that_is_not_toml_is_a_config_error_naming_file_and_line(
        project: Project, file: str, text: str, reason: str, command: list[str], tmp_path: Path) -> None:
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": "customers",
                             "load_type": "FULL", "enabled": "Y"}])
    with (project.path / ".dlt" / file).open("a", encoding="utf-8") as handle:
        handle.write("\n" + text)
    result = project.ingest(*command, "--project-dir", str(project.path))
    assert result.exit_code == 2, result.output
    path = project.path / ".dlt" / file
    assert f"{path} is not valid TOML (" in result.output and reason in result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output
    assert "s3cr3t" not in result.output and "Canary" not in result.output
