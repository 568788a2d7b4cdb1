"""`ingest secrets push|env|list` and `validate-config --check-secrets` against the local stores."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import BASE_CONFIG, Project
from dlt_ingest.secrets.chain import use_project
from dlt_ingest.workbook.template import DEMO_ROWS
from secret_stores import vault_fixture, workspace_fixture  # noqa: F401
from services.databricks_api import DatabricksWorkspace
from services.keyvault import KeyVault

SECRETS_TOML = """
[sources.pg]
host = "db.internal"
port = 5432
password = "pa'ss$word"

[destination.filesystem.credentials]
azure_storage_account_name = "lakeaccount"
azure_storage_account_key = "a2V5IGZyb20gdG9tbA=="
"""
VAULT_NAMES = ["pg-host", "pg-port", "pg-password", "adls-storage-account-name", "adls-storage-account-key"]
VALUES = ["db.internal", "5432", "pa'ss$word", "lakeaccount", "a2V5IGZyb20gdG9tbA=="]


@pytest.fixture
def secrets_toml(project: Project) -> Path:
    path = project.path / ".dlt" / "secrets.toml"
    path.write_text(SECRETS_TOML, encoding="utf-8")
    use_project(str(project.path))
    return path


def _without_demo_source(project: Project) -> None:
    """config.toml keeps only its [runtime] part, so the demo's `database` must come from a secret store."""
    (project.path / ".dlt" / "config.toml").write_text(BASE_CONFIG.split("[sources.demo]")[0], encoding="utf-8")
    use_project(str(project.path))


def test_push_to_databricks_creates_the_scope_and_prints_names_only(
        project: Project, workspace: DatabricksWorkspace, secrets_toml: Path) -> None:
    result = project.ingest("secrets", "push", "--to", "databricks", "--scope", "team")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"uploaded {n}" for n in VAULT_NAMES] + [
        "5 secret(s) uploaded to Databricks secret scope team."]
    assert workspace.scopes["team"] == dict(zip(VAULT_NAMES, VALUES, strict=True))
    assert ("POST", "/api/2.0/secrets/scopes/create") in workspace.requests


def test_push_to_key_vault_round_trips_through_the_chain(
        project: Project, vault: KeyVault, secrets_toml: Path) -> None:
    result = project.ingest("secrets", "push", "--to", "keyvault", "--vault-url", vault.url)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"5 secret(s) uploaded to Azure Key Vault {vault.url}."
    assert vault.secrets == dict(zip(VAULT_NAMES, VALUES, strict=True))
    secrets_toml.unlink()  # now only the vault holds them
    use_project(str(project.path))
    listing = project.ingest("secrets", "list")
    assert listing.exit_code == 0, listing.output
    assert "sources.demo.database" in listing.stdout and "config.toml" in listing.stdout
    for value in VALUES[2:]:
        assert value not in listing.stdout


def test_list_shows_the_store_holding_each_setting_and_no_value(
        project: Project, workspace: DatabricksWorkspace, secrets_toml: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    workspace.put("dlt-framework", "pg-password", "from-databricks")
    monkeypatch.setenv("DLT_PG_HOST", "env.internal")
    result = project.ingest("secrets", "list", "--config", "no-workbook.xlsx")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[2].strip(): line.split("│")[3].strip()
            for line in result.stdout.splitlines() if line.count("│") >= 4 and "sources." in line}
    assert rows == {"sources.pg.host": "Environment Variables", "sources.pg.port": "secrets.toml",
                    "sources.pg.password": "Databricks secrets (scope dlt-framework)",
                    "sources.demo.database": "config.toml"}
    assert "from-databricks" not in result.stdout and "pa'ss$word" not in result.stdout


@pytest.mark.parametrize(("shell", "form", "expected"), [
    ("bash", "dlt", ["export SOURCES__PG__HOST='db.internal'", "export SOURCES__PG__PORT='5432'",
                     "export SOURCES__PG__PASSWORD='pa'\"'\"'ss$word'"]),
    ("powershell", "guide", ["$env:DLT_PG_HOST = 'db.internal'", "$env:DLT_PG_PORT = '5432'",
                             "$env:DLT_PG_PASSWORD = 'pa''ss$word'"]),
])
def test_env_prints_paste_ready_lines(project: Project, secrets_toml: Path, shell: str, form: str,
                                      expected: list[str]) -> None:
    result = project.ingest("secrets", "env", "--shell", shell, "--form", form)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == expected
    assert len(result.stdout.splitlines()) == 5
    assert "never commit" in result.stderr


def test_bash_env_lines_round_trip_every_character(project: Project, secrets_toml: Path) -> None:
    lines = project.ingest("secrets", "env", "--shell", "bash").stdout
    shown = subprocess.run(["bash", "-c", lines + '\nprintf %s "$SOURCES__PG__PASSWORD"'], capture_output=True,
                           text=True, check=True).stdout
    assert shown == "pa'ss$word"


def test_push_without_secrets_toml_says_what_to_do(project: Project, workspace: DatabricksWorkspace) -> None:
    result = project.ingest("secrets", "push", "--to", "databricks")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: no secrets found in .dlt/secrets.toml of this folder: run the command in the project folder, "
        "or add [sources.<name>] sections to .dlt/secrets.toml first")


def test_check_secrets_prints_the_holder_of_each_key(project: Project, workspace: DatabricksWorkspace) -> None:
    _without_demo_source(project)
    workspace.put("dlt-framework", "demo-database", "data/demo.sqlite")
    project.write_workbook(DEMO_ROWS)
    result = project.ingest("validate-config", "--check-secrets")
    assert result.exit_code == 0, result.output
    assert "│ demo   │ sources.demo.database │ Databricks secrets (scope dlt-framework) │" in result.stdout
    assert "All credentials resolved for 1 source(s)." in result.stdout


def test_check_secrets_exits_2_listing_what_was_tried(project: Project) -> None:
    _without_demo_source(project)
    project.write_workbook(DEMO_ROWS)
    result = project.ingest("validate-config", "--check-secrets")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        "Error: source 'demo': missing 1 setting(s) under [sources.demo]:",
        "  database: tried (Environment Variables, SOURCES__DEMO__DATABASE | DLT_DEMO_DATABASE), "
        "(config.toml, sources.demo.database)",
    ]


@pytest.mark.parametrize("store", ["databricks", "keyvault", "env-dlt", "env-guide", "secrets.toml"])
def test_the_same_workbook_runs_with_its_credentials_in_any_store(
        project: Project, workspace: DatabricksWorkspace, vault: KeyVault, monkeypatch: pytest.MonkeyPatch,
        store: str) -> None:
    _without_demo_source(project)
    path = "data/demo.sqlite"
    if store == "databricks":
        workspace.put("dlt-framework", "demo-database", path)
    elif store == "keyvault":
        vault.secrets["demo-database"] = path
    elif store == "env-dlt":
        monkeypatch.setenv("SOURCES__DEMO__DATABASE", path)
    elif store == "env-guide":
        monkeypatch.setenv("DLT_DEMO_DATABASE", path)
    else:
        project.append_config(f'[sources.demo]\ndatabase = "{path}"', file="secrets.toml")
    project.write_workbook(DEMO_ROWS)
    result = project.ingest("run", "--select", "demo.products")
    assert result.exit_code == 0, result.output
    provider = {"databricks": "Databricks secrets (scope dlt-framework)", "keyvault": "Azure Key Vault",
                "secrets.toml": "secrets.toml"}.get(store, "Environment Variables")
    logs = "\n".join(p.read_text(encoding="utf-8") for p in (project.path / "logs").rglob("*.log"))
    assert f"demo: credentials from {provider}" in logs
