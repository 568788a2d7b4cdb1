"""Which store holds each setting a run needs: `validate-config --check-secrets` and `secrets list`.

Nothing here returns or prints a value; rows carry setting names and provider names only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlt.common.configuration.specs import BaseConfiguration

from dlt_ingest.errors import SecretNotFoundError
from dlt_ingest.secrets.chain import lookup_setting, resolve_source_credentials
from dlt_ingest.secrets.names import dlt_env_name, guide_env_name, vault_name
from dlt_ingest.secrets.transfer import toml_documents

NOT_SET = "-"
_DESTINATION = ("destination", "filesystem")
AZURE_CREDENTIAL_FIELDS = ("azure_storage_account_name", "azure_storage_account_key", "azure_storage_sas_token",
                           "azure_client_id", "azure_client_secret", "azure_tenant_id")


@dataclass(frozen=True)
class SettingRow:
    """One setting: where dlt looks for it, the provider holding it (or `-`), and its store names."""

    owner: str
    key: str
    sections: tuple[str, ...]
    provider: str

    @property
    def path(self) -> str:
        return ".".join((*self.sections, self.key))

    @property
    def vault_name(self) -> str:
        return vault_name(self.key, self.sections) or ""

    @property
    def env_names(self) -> str:
        guide = guide_env_name(self.key, self.sections)
        return dlt_env_name(self.key, self.sections) + (f" | {guide}" if guide else "")


@dataclass
class SecretsReport:
    rows: list[SettingRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise SecretNotFoundError("\n".join(self.problems))


def _row(owner: str, key: str, sections: tuple[str, ...], hint: Any = str) -> SettingRow:
    value, provider = lookup_setting(key, sections, hint)
    return SettingRow(owner, key, sections, provider if value is not None and provider else NOT_SET)


def _destination_rows() -> list[SettingRow]:
    """The lake's Azure credentials, when the configured bucket is remote (any one method may be used)."""
    bucket, _ = lookup_setting("bucket_url", _DESTINATION)
    if not bucket or "://" not in str(bucket) or str(bucket).startswith("file://"):
        return []
    rows = [_row("destination", "bucket_url", _DESTINATION)]
    sections = (*_DESTINATION, "credentials")
    rows.extend(_row("destination", name, sections) for name in AZURE_CREDENTIAL_FIELDS)
    return rows


def source_rows(source_name: str, spec: Any) -> list[SettingRow]:
    sections = ("sources", source_name)
    return [_row(source_name, name, sections, hint) for name, hint in spec.get_resolvable_fields().items()]


def check_source_secrets(sources: Mapping[str, type[BaseConfiguration]]) -> SecretsReport:
    """Resolve the credentials of every source (name -> its credentials spec) without running anything;
    collect what is missing."""
    report = SecretsReport()
    for source_name, spec in sources.items():
        report.rows.extend(source_rows(source_name, spec))
        try:
            resolve_source_credentials(spec, source_name)
        except SecretNotFoundError as exc:
            report.problems.append(exc.message)
    report.rows.extend(_destination_rows())
    return report


def toml_source_names() -> dict[str, list[str]]:
    """`[sources.<name>]` sections of secrets.toml and config.toml with their keys."""
    found: dict[str, list[str]] = {}
    for document in toml_documents():
        for name, table in (document.get("sources") or {}).items():
            if isinstance(table, dict):
                keys = found.setdefault(str(name), [])
                keys.extend(str(k) for k, v in table.items() if not isinstance(v, dict) and str(k) not in keys)
    return found


def list_settings(sources: Mapping[str, type[BaseConfiguration]]) -> SecretsReport:
    """Every setting of the workbook's sources (and sources only in the toml files), with its holder."""
    report = check_source_secrets(sources) if sources else SecretsReport()
    known = {row.owner for row in report.rows}
    for name, keys in toml_source_names().items():
        if name in known:
            continue
        report.rows.extend(_row(name, key, ("sources", name)) for key in keys)
    if not sources:
        report.rows.extend(_destination_rows())
    return report
