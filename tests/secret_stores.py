"""The two remote secret stores as fixtures: one fake server each per session, emptied per test.

Activation goes through the same switches a user sets (DATABRICKS_HOST/TOKEN, AZURE_KEY_VAULT_URL);
the Key Vault credential and certificate trust come in through the client-options seam (no Azure AD here).
"""

from __future__ import annotations

import atexit
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlt_ingest.secrets.chain import use_project
from dlt_ingest.secrets.keyvault import use_key_vault_client_options
from services.databricks_api import TOKEN, DatabricksWorkspace, start_databricks_workspace
from services.keyvault import FixedTokenCredential, KeyVault, start_key_vault

_servers: dict[str, object] = {}


def shared_workspace() -> DatabricksWorkspace:
    if "databricks" not in _servers:
        _servers["databricks"] = workspace = start_databricks_workspace()
        atexit.register(workspace.stop)
    workspace = _servers["databricks"]
    assert isinstance(workspace, DatabricksWorkspace)
    return workspace


def shared_key_vault() -> KeyVault:
    if "keyvault" not in _servers:
        folder = Path(tempfile.mkdtemp(prefix="fake-keyvault-"))
        _servers["keyvault"] = vault = start_key_vault(folder)
        atexit.register(vault.stop)
    vault = _servers["keyvault"]
    assert isinstance(vault, KeyVault)
    return vault


@pytest.fixture(name="workspace")
def workspace_fixture(project: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabricksWorkspace]:
    """The Databricks provider switched on (host + token) against an empty fake workspace."""
    server = shared_workspace()
    server.reset()
    monkeypatch.setenv("DATABRICKS_HOST", server.host)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    use_project(str(Path.cwd()))
    yield server
    server.reset()


@pytest.fixture(name="vault")
def vault_fixture(project: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyVault]:
    """The Key Vault provider switched on (AZURE_KEY_VAULT_URL) against an empty fake vault."""
    server = shared_key_vault()
    server.reset()
    monkeypatch.setenv("AZURE_KEY_VAULT_URL", server.url)
    use_key_vault_client_options(FixedTokenCredential(), **server.client_options())
    use_project(str(Path.cwd()))
    yield server
    use_key_vault_client_options(None)
    server.reset()

