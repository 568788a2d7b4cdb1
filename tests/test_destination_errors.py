"""Bad storage settings fail the run once, at start, in one line naming the account (never the key); exit 2."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import AzuriteLake
from services.postgres import free_port

CANARY_KEY = "Q0FOQVJZLWtleS1tdXN0LW5ldmVyLWxlYWstMTIzNDU2Nzg5MA=="  # valid base64, wrong for the account


def _nothing_ran(project: Project) -> None:
    assert project.audit_rows() == []
    assert not (project.path / ".dlt" / "pipelines").exists()


def test_missing_container_fails_at_start_naming_account_and_container(project: Project, azurite: Any) -> None:
    project.write_workbook(DEMO_ROWS)
    lake = AzuriteLake(project, azurite, "az", create=False)
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: storage account 'devstoreaccount1', container '{lake.container}' does not exist; create it, or "
        f"run with --create-container (or set create_container = true under [ingest] in .dlt/config.toml)")
    _nothing_ran(project)
    assert not azurite.has_container(lake.container)


@pytest.mark.parametrize("how", ["flag", "config"])
def test_missing_container_is_created_only_when_asked(project: Project, azurite: Any, how: str) -> None:
    project.write_workbook(DEMO_ROWS)
    lake = AzuriteLake(project, azurite, "abfss", create=False)
    if how == "config":
        project.append_config("[ingest]\ncreate_container = true")
    args = ("run", "--select", "demo.products", *(["--create-container"] if how == "flag" else []))
    result = project.ingest(*args)
    assert result.exit_code == 0, result.output
    assert azurite.has_container(lake.container)
    assert lake.read("demo", "products").num_rows == 120


def test_rejected_key_is_one_line_naming_the_account_never_the_key(project: Project, azurite: Any) -> None:
    project.write_workbook(DEMO_ROWS)
    container = "lake-wrong-key"
    if not azurite.has_container(container):
        azurite.create_container(container)
    project.append_config(azurite.destination_config(f"az://{container}", key=CANARY_KEY), "secrets.toml")
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: storage account 'devstoreaccount1', container '{container}': the storage service rejected the "
        f"credentials; check azure_storage_account_key, azure_storage_sas_token or the service principal under "
        f"[destination.filesystem.credentials] (or the identity's role on the account)")
    _nothing_ran(project)
    assert CANARY_KEY not in result.output + project.all_output_text()


def test_unreachable_storage_is_one_line_naming_the_account(project: Project, azurite: Any) -> None:
    project.write_workbook(DEMO_ROWS)
    port = free_port()  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}/{azurite.account}"
    config = azurite.destination_config("az://raw-data").replace(azurite.blob_endpoint, endpoint)
    project.append_config(config, "secrets.toml")
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: storage account 'devstoreaccount1', container 'raw-data': storage is unreachable at {endpoint} "
        f"(ServiceRequestError); check the account name, the network and the account's firewall")
    assert azurite.key not in result.output
    _nothing_ran(project)


def test_azure_lake_without_account_name_names_the_missing_setting(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    project.append_config('[destination.filesystem]\nbucket_url = "az://raw-data"')
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: destination az://raw-data: missing azure_storage_account_name under "
        "[destination.filesystem.credentials]; add it to .dlt/secrets.toml or any secret provider "
        "(see docs/destinations.md)")


def test_local_lake_that_cannot_be_created_fails_at_start(project: Project) -> None:
    project.write_workbook(DEMO_ROWS)
    (project.path / "not-a-folder").write_text("a file")
    project.append_config('[destination.filesystem]\nbucket_url = "not-a-folder/lake"')
    result = project.ingest("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: lake folder {project.path / 'not-a-folder' / 'lake'} cannot be created: Not a directory; check "
        f"the path and permissions, or set bucket_url under [destination.filesystem]")
    _nothing_ran(project)


@pytest.mark.parametrize(("layout", "problem"), [
    ("{YYYY}/{table_name}/{load_id}.{file_id}.{ext}", "dlt allows only {schema_name} before {table_name}"),
    ("{YYYY}/{MM}/{load_id}.{file_id}.{ext}", "has no {table_name}"),
])
def test_custom_layout_is_validated_at_start(project: Project, layout: str, problem: str) -> None:
    project.write_workbook(DEMO_ROWS)
    project.append_config(f'[destination.filesystem]\nlayout = "{layout}"')
    result = project.ingest("run")
    assert result.exit_code == 2
    assert problem in result.stderr
    _nothing_ran(project)
