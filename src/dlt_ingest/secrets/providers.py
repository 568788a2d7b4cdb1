"""Putting the chain into dlt: our providers go AHEAD of dlt's own in the run context's list.

Resulting order, highest priority first:
    Databricks secrets > Azure Key Vault > environment variables > secrets.toml > config.toml
    > dlt-ingest's defaults (`IngestDefaultsProvider`)
`dlt.config.register_provider` would append (lowest priority), so we edit the list in place. dlt
then resolves `sources.*` and the destination's credentials through the same chain.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from dlt.common.configuration.container import Container
from dlt.common.configuration.providers.dictionary import DictionaryProvider
from dlt.common.configuration.providers.environ import EnvironProvider
from dlt.common.configuration.providers.provider import ConfigProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.databricks import (
    DEFAULT_SCOPE,
    DEFAULT_TIMEOUT_SECONDS,
    DatabricksSecretsProvider,
    databricks_configured,
)
from dlt_ingest.secrets.environ import IngestEnvironProvider
from dlt_ingest.secrets.keyvault import DEFAULT_AUTH_SCOPE, KEYVAULT_URL_ENV, KeyVaultProvider, key_vault_credential
from dlt_ingest.secrets.names import is_secret_field
from dlt_ingest.secrets.vault import VaultProvider
from dlt_ingest.settings import lookup

_install_lock = threading.Lock()


class IngestDefaultsProvider(DictionaryProvider):
    """dlt settings dlt-ingest changes by default, at the lowest priority (any configuration wins).

    - dlt keeps a local copy of every loaded file; on a nightly job of large tables that doubles the disk
      used each run, while the lake holds the data: the local copy goes once a package is loaded.
    - dlt's extraction sleeps one poll interval (10 ms) when a resource is exhausted: 5 s of a run of 500
      small jobs one after another. A shorter poll costs nothing here (no resource is async).
    - dlt keeps 100 stored states per pipeline in the lake, and every job's state restore lists all of
      them for every pipeline of the dataset; the newest completed one is all a restore needs, and 10
      leave room for loads that never completed (docs/performance.md).
    """

    NAME = "dlt-ingest defaults"

    def __init__(self) -> None:
        super().__init__()
        self._config_doc = {"load": {"delete_completed_jobs": True}, "extract": {"futures_poll_interval": 0.001},
                            "destination": {"filesystem": {"max_state_files": 10}}}


def _setting(providers: list[ConfigProvider], key: str) -> str | None:
    """An `[ingest]` setting read from dlt's own providers only (ours are not installed yet)."""
    value = lookup(key, ("ingest",), str, providers).value
    return None if value is None else str(value)


def build_vault_providers(dlt_providers: list[ConfigProvider]) -> list[VaultProvider]:
    """The remote stores this environment configures, highest priority first (no network here)."""
    vaults: list[VaultProvider] = []
    databricks: DatabricksSecretsProvider | None = None
    profile = _setting(dlt_providers, "databricks_profile")
    timeout = int(_setting(dlt_providers, "secret_store_timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
    if databricks_configured(profile):
        scope = _setting(dlt_providers, "databricks_secret_scope") or DEFAULT_SCOPE
        databricks = DatabricksSecretsProvider(scope, profile, timeout_seconds=timeout)
        vaults.append(databricks)
    vault_url = os.environ.get(KEYVAULT_URL_ENV) or _setting(dlt_providers, "azure_key_vault_url")
    if vault_url:
        auth_scope = _setting(dlt_providers, "keyvault_auth_scope") or DEFAULT_AUTH_SCOPE

        def credential() -> Any:
            return key_vault_credential(databricks, auth_scope)

        vaults.append(KeyVaultProvider(vault_url, credential, timeout_seconds=timeout))
    return vaults


def install_providers(force: bool = False, source_names: Iterable[str] | None = None) -> list[ConfigProvider]:
    """Make the run context's provider list our chain (idempotent; anew after a context reload), and
    declare the workbook's `source_names` to the environment provider (replacing earlier ones)."""
    container = Container()[PluggableRunContext].providers
    with _install_lock:
        providers = container.providers
        environ = next((p for p in providers if isinstance(p, IngestEnvironProvider)), None)
        if environ is None or force:
            dlt_own = [p for p in providers if not isinstance(p, VaultProvider)]
            environ = IngestEnvironProvider()
            dlt_own = [environ if isinstance(p, EnvironProvider) else p for p in dlt_own]
            dlt_own = [p for p in dlt_own if not isinstance(p, IngestDefaultsProvider)]
            providers[:] = [*build_vault_providers(dlt_own), *dlt_own, IngestDefaultsProvider()]
            _register_toml_secrets(dlt_own)
        if source_names is not None:
            environ.declared.replace(source_names)
        return providers


def _register_toml_secrets(providers: list[ConfigProvider]) -> None:
    """Secret-named values of secrets.toml are masked even when dlt (not our chain) resolves them."""

    def walk(node: Any) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value)
            elif is_secret_field(str(key)):
                register_secret(value)

    for provider in providers:
        if provider.name == "secrets.toml":
            walk(getattr(provider, "_config_doc", {}) or {})

