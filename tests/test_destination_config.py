"""How the lake reads its settings: bucket URLs, the Azure auth kinds, the guide's secret names, the run date."""

from __future__ import annotations

from typing import Any

import pytest
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from dlt.common.configuration.specs import AzureCredentials, AzureServicePrincipalCredentials

from conftest import Project
from dlt_ingest.destinations.filesystem.azure import AzureLocation, _sdk_credential, locate
from dlt_ingest.destinations.filesystem.lake import lake_target
from dlt_ingest.workbook.template import DEMO_ROWS

CONNECTION = "DefaultEndpointsProtocol=http;AccountName=fromconn;AccountKey=a2V5;BlobEndpoint=http://h/fromconn;"


def _credentials(**values: Any) -> AzureCredentials:
    credentials = AzureCredentials()
    for name, value in values.items():
        setattr(credentials, name, value)
    return credentials


@pytest.mark.parametrize(("url", "credentials", "kwargs", "expected"), [
    ("az://raw-data", _credentials(azure_storage_account_name="dltpoctest"), None,
     AzureLocation("dltpoctest", "raw-data", "")),
    ("az://raw-data/landing/erp", _credentials(azure_storage_account_name="dltpoctest"), None,
     AzureLocation("dltpoctest", "raw-data", "landing/erp")),
    ("abfss://raw-data@fromhost.dfs.core.windows.net/landing", _credentials(azure_storage_account_name="x"), None,
     AzureLocation("fromhost", "raw-data", "landing")),
    ("az://raw-data", _credentials(), {"connection_string": CONNECTION}, AzureLocation("fromconn", "raw-data", "")),
])
def test_bucket_url_names_account_container_and_prefix(url: str, credentials: Any, kwargs: Any,
                                                       expected: AzureLocation) -> None:
    assert locate(url, credentials, kwargs) == expected


def test_account_key_and_sas_token_are_passed_to_the_sdk_as_given() -> None:
    key = _credentials(azure_storage_account_name="acct", azure_storage_account_key="a2V5")
    assert _sdk_credential(key) == {"account_name": "acct", "account_key": "a2V5"}
    assert _sdk_credential(_credentials(azure_storage_account_name="acct", azure_storage_sas_token="sv=1&sig=x")) \
        == "sv=1&sig=x"


def test_service_principal_and_default_credential_become_azure_identity_credentials() -> None:
    principal = AzureServicePrincipalCredentials()
    principal.azure_storage_account_name = "acct"
    principal.azure_tenant_id = "00000000-0000-0000-0000-000000000001"
    principal.azure_client_id = "00000000-0000-0000-0000-000000000002"
    principal.azure_client_secret = "principal-secret"
    assert isinstance(_sdk_credential(principal), ClientSecretCredential)
    assert isinstance(_sdk_credential(_credentials(azure_storage_account_name="acct")), DefaultAzureCredential)


def test_local_paths_become_file_urls(project: Project) -> None:
    assert lake_target().bucket_url == (project.path / "lake").as_uri()
    project.append_config(f'[destination.filesystem]\nbucket_url = "file://{project.path}/elsewhere"')
    assert lake_target().bucket_url == (project.path / "elsewhere").as_uri()


def test_guide_secret_names_authenticate_the_lake(project: Project, azurite: Any) -> None:
    project.write_workbook(DEMO_ROWS)
    container = "lake-guide-names"
    if not azurite.has_container(container):
        azurite.create_container(container)
    project.append_config(
        f'adls-storage-account-name = "{azurite.account}"\nadls-storage-account-key = "{azurite.key}"\n\n'
        f'[destination.filesystem]\nbucket_url = "az://{container}"\n\n'
        f'[destination.filesystem.kwargs]\nconnection_string = "{azurite.connection_string()}"\n', "secrets.toml")
    result = project.ingest("run", "--select", "demo.products")
    assert result.exit_code == 0, result.output
    assert any(p.endswith(".parquet") for p in azurite.filesystem().find(f"{container}/demo/products"))
    assert azurite.key not in result.output + project.all_output_text()


def test_unparseable_current_datetime_is_a_config_error(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    project.append_config('[destination.filesystem]\ncurrent_datetime = "yesterday"')
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: [destination.filesystem] current_datetime 'yesterday' is not a date and time; use ISO 8601, e.g. "
        "2026-02-12T00:00:00Z, or remove it to use the load time")
