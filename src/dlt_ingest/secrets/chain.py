"""Resolving a source's credentials through dlt's config providers, exactly at `sources.<source_name>`.

dlt's own `resolve_configuration` falls back from `sources.<name>.host` to a bare `HOST`, so an
unrelated environment variable (HOST, USERNAME, PASSWORD are common) could silently become a database
credential. We therefore ask each of dlt's providers, in dlt's priority order, for the exact key only,
record which provider served each field, and let dlt's configspec coerce and validate the values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.configuration.providers.provider import ConfigProvider
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.typing import is_optional_type

from dlt_ingest.errors import SecretNotFoundError, SecretProviderError
from dlt_ingest.secrets.redaction import register_secret

TSpec = TypeVar("TSpec", bound=BaseConfiguration)
log = logging.getLogger("dlt_ingest.secrets")

SECRET_FIELD_MARKERS = ("password", "secret", "token", "key", "sas", "connection_string")


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_FIELD_MARKERS)


@dataclass
class ResolvedCredentials:
    """A resolved configspec plus, per field, the name of the provider that served it."""

    config: Any
    served_by: dict[str, str] = field(default_factory=dict)

    @property
    def providers_used(self) -> list[str]:
        return sorted(set(self.served_by.values()))


def active_providers() -> list[ConfigProvider]:
    """The chain in priority order (our vaults installed ahead of dlt's), skipping empty providers."""
    from dlt_ingest.secrets.providers import install_providers

    return [p for p in install_providers() if not p.is_empty]


def _lookup(key: str, hint: Any, sections: tuple[str, ...]) -> tuple[Any, str | None, list[str]]:
    tried: list[str] = []
    for provider in active_providers():
        try:
            value, full_key = provider.get_value(key, hint, None, *sections)
        except (ConfigurationException, SecretProviderError):
            raise
        except Exception as exc:  # a configured provider that fails must not fall through silently
            raise SecretProviderError(
                f"secret provider '{provider.name}' failed while reading {'.'.join((*sections, key))}: "
                f"{type(exc).__name__}; check that it is reachable and that this identity may read it."
            ) from exc
        tried.append(f"({provider.name}, {full_key})")
        if value is not None:
            return value, provider.name, tried
    return None, None, tried


def resolve_section(spec: type[TSpec], sections: tuple[str, ...], what: str) -> ResolvedCredentials:
    """Resolve every field of `spec` at exactly `sections`; raise one error listing all that is missing."""
    values: dict[str, Any] = {}
    served_by: dict[str, str] = {}
    missing: list[str] = []
    defaults = spec()
    for name, hint in spec.get_resolvable_fields().items():
        value, provider_name, tried = _lookup(name, hint, sections)
        if value is not None:
            values[name] = value
            served_by[name] = provider_name or "?"
            if is_secret_field(name):
                register_secret(value)
            continue
        default = getattr(defaults, name, None)
        if default is None and not is_optional_type(hint):
            missing.append(f"  {name}: tried " + ", ".join(tried or ["(no provider is configured)"]))
    if missing:
        section = ".".join(sections)
        raise SecretNotFoundError(
            f"{what}: missing {len(missing)} setting(s) under [{section}]:\n"
            + "\n".join(missing)
            + f"\nAdd them to .dlt/secrets.toml under [{section}] or to any provider listed in docs/secrets.md."
        )
    try:
        config = resolve_configuration(spec(), explicit_value=values, accept_partial=True)
    except ConfigurationException as exc:
        raise SecretNotFoundError(f"{what}: invalid settings under [{'.'.join(sections)}]: {exc}") from exc
    return ResolvedCredentials(config, served_by)


def resolve_source_credentials(spec: type[TSpec], source_name: str) -> ResolvedCredentials:
    """Resolve a source's credentials and log, before the job touches the source, which stores served them."""
    resolved = resolve_section(spec, ("sources", source_name), f"source '{source_name}'")
    if resolved.providers_used:
        log.info("%s: credentials from %s", source_name, ", ".join(resolved.providers_used))
    return resolved


def lookup_setting(key: str, sections: tuple[str, ...], hint: Any = str) -> tuple[Any, str | None]:
    """One setting at exactly `sections.key` (no fallback to a bare key); returns (value, provider)."""
    value, provider_name, _ = _lookup(key, hint, sections)
    if value is not None and is_secret_field(key):
        register_secret(value)
    return value, provider_name


def use_project_dir(path: str) -> None:
    """Point dlt's providers at `<path>/.dlt` (dlt fixes its run dir when first used), then add ours."""
    from dlt_ingest.secrets.providers import install_providers

    Container()[PluggableRunContext].reload(path)
    install_providers(force=True)
