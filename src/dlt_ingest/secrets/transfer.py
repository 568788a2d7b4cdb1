"""Moving secrets out of `.dlt/secrets.toml`: push to Databricks or Key Vault, or print shell exports.

`push` prints names only. `env_lines` is the one place that outputs values, on purpose: it writes
the lines a user pastes into a shell, to stdout only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.secrets.chain import lookup_setting
from dlt_ingest.secrets.databricks import DEFAULT_SCOPE, DatabricksSecretsProvider
from dlt_ingest.secrets.keyvault import KEYVAULT_URL_ENV, KeyVaultProvider, key_vault_credential
from dlt_ingest.secrets.names import dlt_env_name, guide_env_name, vault_name
from dlt_ingest.secrets.providers import install_providers

SHELLS = ("bash", "powershell")
ENV_FORMS = ("dlt", "guide")


def _toml_provider(name: str) -> Any:
    return next((p for p in install_providers() if p.name == name), None)


def toml_documents() -> list[dict[str, Any]]:
    """secrets.toml then config.toml, as dlt loaded them for this project."""
    documents = []
    for name in ("secrets.toml", "config.toml"):
        provider = _toml_provider(name)
        if provider is not None:
            documents.append(provider._config_doc)
    return documents


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def toml_settings() -> Iterator[tuple[tuple[str, ...], str, str]]:
    """(sections, key, value) of every setting in secrets.toml that the vaults can hold."""
    provider = _toml_provider("secrets.toml")
    if provider is None or provider.is_empty:
        raise ConfigError(
            "no secrets found in .dlt/secrets.toml of this folder: run the command in the project folder, "
            "or add [sources.<name>] sections to .dlt/secrets.toml first"
        )
    document = provider._config_doc
    for source, table in (document.get("sources") or {}).items():
        if isinstance(table, dict):
            for key, value in table.items():
                if not isinstance(value, dict):
                    yield ("sources", str(source)), str(key), _text(value)
    filesystem = (document.get("destination") or {}).get("filesystem") or {}
    for key, value in filesystem.items():
        if key == "credentials" and isinstance(value, dict):
            for ckey, cvalue in value.items():
                yield ("destination", "filesystem", "credentials"), str(ckey), _text(cvalue)
        elif not isinstance(value, dict):
            yield ("destination", "filesystem"), str(key), _text(value)


def vault_values() -> dict[str, str]:
    values: dict[str, str] = {}
    for sections, key, value in toml_settings():
        name = vault_name(key, sections)
        if name:
            values[name] = value
    return values


def push_to_databricks(scope: str | None = None) -> tuple[str, list[str]]:
    """Upload secrets.toml to a Databricks secret scope (created when missing); returns (scope, names)."""
    values = vault_values()
    configured, _ = lookup_setting("databricks_secret_scope", ("ingest",))
    profile, _ = lookup_setting("databricks_profile", ("ingest",))
    target = DatabricksSecretsProvider(scope or configured or DEFAULT_SCOPE, profile)
    return target.scope, target.put(values)


def push_to_key_vault(vault_url: str | None = None) -> tuple[str, list[str]]:
    """Upload secrets.toml to Azure Key Vault; returns (vault url, names)."""
    url = vault_url or os.environ.get(KEYVAULT_URL_ENV)
    if not url:
        raise ConfigError(f"ingest secrets push --to keyvault needs --vault-url URL (or {KEYVAULT_URL_ENV})")
    values = vault_values()
    target = KeyVaultProvider(url, key_vault_credential)
    return url, target.put(values)


def _quote(value: str, shell: str) -> str:
    if shell == "powershell":
        return "'" + value.replace("'", "''") + "'"
    return "'" + value.replace("'", "'\"'\"'") + "'"


def env_lines(shell: str, form: str = "dlt") -> list[str]:
    """secrets.toml as environment-variable assignments for `shell` (values included: paste, never commit)."""
    if shell not in SHELLS:
        raise ConfigError(f"--shell {shell}: use one of {', '.join(SHELLS)}")
    if form not in ENV_FORMS:
        raise ConfigError(f"--form {form}: use one of {', '.join(ENV_FORMS)}")
    lines = []
    for sections, key, value in toml_settings():
        name = guide_env_name(key, sections) if form == "guide" else dlt_env_name(key, sections)
        if not name:
            continue
        quoted = _quote(value, shell)
        lines.append(f"$env:{name} = {quoted}" if shell == "powershell" else f"export {name}={quoted}")
    return lines
