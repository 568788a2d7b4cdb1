"""The provider chain: order, names in each store, failing stores, and dlt resolving through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs.azure_credentials import AzureCredentials

from conftest import Project
from dlt_ingest.errors import SecretNotFoundError, SecretProviderError
from dlt_ingest.redaction import redact
from dlt_ingest.secrets.chain import active_providers, resolve_source_credentials, use_project
from dlt_ingest.secrets.names import guide_env_name, vault_name
from dlt_ingest.sources.sql.sqlite import SqliteCredentials
from secret_stores import vault_fixture, workspace_fixture  # noqa: F401
from services.databricks_api import DatabricksWorkspace
from services.keyvault import KeyVault

STORES = ("databricks", "keyvault", "env", "secrets.toml")
PROVIDER_NAMES = {
    "databricks": "Databricks secrets (scope dlt-framework)",
    "keyvault": "Azure Key Vault",
    "env": "Environment Variables",
    "secrets.toml": "secrets.toml",
}


def _put(store: str, project: Project, workspace: DatabricksWorkspace, vault: KeyVault,
         monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    if store == "databricks":
        workspace.put("dlt-framework", "demo-database", value)
    elif store == "keyvault":
        vault.secrets["demo-database"] = value
    elif store == "env":
        monkeypatch.setenv("SOURCES__DEMO__DATABASE", value)
    else:
        project.append_config(f'[sources.demo]\ndatabase = "{value}"', file="secrets.toml")


def test_providers_are_ordered_databricks_keyvault_env_secrets_config(
        project: Project, workspace: DatabricksWorkspace, vault: KeyVault) -> None:
    names = [p.name for p in active_providers()]
    assert names == ["Databricks secrets (scope dlt-framework)", "Azure Key Vault", "Environment Variables",
                     "config.toml"]  # secrets.toml is empty, so skipped like dlt does


@pytest.mark.parametrize("present", [STORES[i:] for i in range(len(STORES))], ids=lambda s: "+".join(s))
def test_highest_priority_store_that_holds_the_key_wins(
        project: Project, workspace: DatabricksWorkspace, vault: KeyVault, monkeypatch: pytest.MonkeyPatch,
        present: tuple[str, ...]) -> None:
    for store in present:
        _put(store, project, workspace, vault, monkeypatch, f"from-{store}.sqlite")
    resolved = resolve_source_credentials(SqliteCredentials, "demo")
    assert resolved.config.database == f"from-{present[0]}.sqlite"
    assert resolved.served_by == {"database": PROVIDER_NAMES[present[0]]}


def test_config_toml_serves_when_no_secret_store_holds_the_key(
        project: Project, workspace: DatabricksWorkspace, vault: KeyVault) -> None:
    resolved = resolve_source_credentials(SqliteCredentials, "demo")
    assert resolved.served_by == {"database": "config.toml"}


def test_missing_secret_lists_every_provider_and_key_tried_in_order(
        project: Project, workspace: DatabricksWorkspace, vault: KeyVault) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        resolve_source_credentials(SqliteCredentials, "my_db")
    assert caught.value.message.splitlines()[:2] == [
        "source 'my_db': missing 1 setting(s) under [sources.my_db]:",
        "  database: tried (Databricks secrets (scope dlt-framework), my-db-database), (Azure Key Vault, "
        "my-db-database), (Environment Variables, SOURCES__MY_DB__DATABASE | DLT_MY_DB_DATABASE), "
        "(config.toml, sources.my_db.database)",
    ]


@pytest.mark.parametrize("store", ["databricks", "keyvault"])
def test_a_configured_store_that_refuses_stops_resolution_naming_the_store(
        project: Project, workspace: DatabricksWorkspace, vault: KeyVault, store: str) -> None:
    server = workspace if store == "databricks" else vault
    server.deny_reads = True
    with pytest.raises(SecretProviderError) as caught:
        resolve_source_credentials(SqliteCredentials, "demo")
    expected = (f"Databricks secrets (scope dlt-framework) at {workspace.host} failed while reading 'demo-database': "
                "PermissionDenied"
                if store == "databricks" else f"Azure Key Vault {vault.url} failed while reading 'demo-database': "
                "HttpResponseError")
    assert caught.value.message.startswith(expected)


def test_an_unreachable_workspace_is_an_error_not_a_fall_through(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.postgres import free_port

    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-nothing-listens-here")
    project.append_config("[ingest]\nsecret_store_timeout_seconds = 1")  # one short try proves it raises
    with pytest.raises(SecretProviderError,
                       match=r"^Databricks secrets \(scope dlt-framework\) at http://127.0.0.1:\d+ failed"):
        resolve_source_credentials(SqliteCredentials, "demo")


def test_scope_comes_from_the_ingest_section(project: Project, workspace: DatabricksWorkspace) -> None:
    workspace.put("team-scope", "demo-database", "team.sqlite")
    project.append_config('[ingest]\ndatabricks_secret_scope = "team-scope"')
    resolved = resolve_source_credentials(SqliteCredentials, "demo")
    assert resolved.served_by == {"database": "Databricks secrets (scope team-scope)"}


@pytest.mark.parametrize(("key", "sections", "vault_key", "env_key"), [
    ("password", ("sources", "postgres"), "postgres-password", "DLT_POSTGRES_PASSWORD"),
    ("service_name", ("sources", "my_oracle"), "my-oracle-service-name", "DLT_MY_ORACLE_SERVICE_NAME"),
    ("azure_storage_account_key", ("destination", "filesystem", "credentials"), "adls-storage-account-key",
     "DLT_ADLS_STORAGE_ACCOUNT_KEY"),
    ("bucket_url", ("destination", "filesystem"), "adls-bucket-url", "DLT_ADLS_BUCKET_URL"),
    ("log_dir", ("ingest",), None, None),
])
def test_store_names_of_a_setting(key: str, sections: tuple[str, ...], vault_key: str | None,
                                  env_key: str | None) -> None:
    assert (vault_name(key, sections), guide_env_name(key, sections)) == (vault_key, env_key)


def test_guide_env_name_goes_to_the_longest_declared_source_name(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLT_MY_DB_DATABASE", "my_db.sqlite")
    use_project(None, ["my", "my_db"])
    assert resolve_source_credentials(SqliteCredentials, "my_db").config.database == "my_db.sqlite"
    with pytest.raises(SecretNotFoundError):  # `my` would read it as key `db_database`: not its variable
        from dlt.common.configuration import configspec
        from dlt.common.configuration.specs import BaseConfiguration

        @configspec
        class MySpec(BaseConfiguration):
            db_database: str = None  # type: ignore[assignment]

        resolve_source_credentials(MySpec, "my")


def test_dlt_env_form_wins_over_the_guide_form(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLT_DEMO_DATABASE", "guide.sqlite")
    monkeypatch.setenv("SOURCES__DEMO__DATABASE", "dlt.sqlite")
    assert resolve_source_credentials(SqliteCredentials, "demo").config.database == "dlt.sqlite"


def test_dlt_resolves_destination_credentials_through_the_vault(
        project: Project, vault: KeyVault, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.secrets["adls-storage-account-name"] = "lakeaccount"
    vault.secrets["adls-storage-account-key"] = "a2V5LWZyb20tdmF1bHQ="
    monkeypatch.setenv("DLT_ADLS_STORAGE_SAS_TOKEN", "sv=2024&sig=from-env")
    active_providers()
    credentials = resolve_configuration(AzureCredentials(), sections=("destination", "filesystem", "credentials"))
    assert (credentials.azure_storage_account_name, credentials.azure_storage_account_key,
            credentials.azure_storage_sas_token) == ("lakeaccount", "a2V5LWZyb20tdmF1bHQ=", "sv=2024&sig=from-env")
    assert redact("key a2V5LWZyb20tdmF1bHQ%3D and sv=2024&sig=from-env") == "key *** and ***"


def test_secret_values_are_masked_raw_and_url_encoded(project: Project, workspace: DatabricksWorkspace) -> None:
    workspace.put("dlt-framework", "demo-database", "data/demo.sqlite")
    Path(".dlt/secrets.toml").write_text('[sources.pg]\npassword = "p@ss:w/rd%#"\n', encoding="utf-8")
    use_project(str(project.path))
    message = "connect postgresql://u:p%40ss%3Aw%2Frd%25%23@h/db failed; raw p@ss:w/rd%# ; plus p%40ss%3Aw%2Frd%25%23"
    assert redact(message) == "connect postgresql://u:***@h/db failed; raw *** ; plus ***"


def test_escaped_forms_inside_driver_messages_are_masked(project: Project) -> None:
    from dlt_ingest.redaction import register_secret

    register_secret("it's\\tricky\"")
    message = "error: 'it\\'s\\\\tricky\"' and {\"p\": \"it's\\\\tricky\\\"\"}"
    assert redact(message) == "error: '***' and {\"p\": \"***\"}"
