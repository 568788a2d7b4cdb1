"""Resolving a source's credentials through the provider chain, exactly at `sources.<source_name>`.

We ask each of dlt's providers (ours installed ahead of them), in priority order, for the exact key only
(`settings.lookup`), record which provider served each field, and let dlt's configspec coerce and
validate the values. A job's credentials are resolved once and handed to everything that needs them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.configuration.providers.provider import ConfigProvider
from dlt.common.configuration.providers.toml import TomlProviderReadException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.typing import is_optional_type

from dlt_ingest.errors import ConfigError, SecretNotFoundError, first_line
from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.names import is_secret_field
from dlt_ingest.secrets.providers import IngestDefaultsProvider, install_providers
from dlt_ingest.settings import Lookup, discover_project, lookup, project_dir

TSpec = TypeVar("TSpec", bound=BaseConfiguration)
log = logging.getLogger("dlt_ingest.secrets")


@dataclass
class ResolvedCredentials(Generic[TSpec]):
    """A resolved configspec plus, per field, the name of the provider that served it."""

    config: TSpec
    served_by: dict[str, str] = field(default_factory=dict)

    @property
    def providers_used(self) -> list[str]:
        return sorted(set(self.served_by.values()))


def active_providers() -> list[ConfigProvider]:
    """The chain in priority order (our vaults installed ahead of dlt's), skipping empty providers and our
    defaults of dlt settings (they hold no credential)."""
    return [p for p in install_providers() if not p.is_empty and not isinstance(p, IngestDefaultsProvider)]


def use_project(path: str | Path | None = None, source_names: Iterable[str] | None = None) -> Path:
    """Point dlt's providers at `<path>/.dlt` (when given), install our chain ahead of dlt's own and
    declare the workbook's source names; returns the project folder in use. A `.dlt/*.toml` that is not
    valid TOML is a `ConfigError` naming the file and the line."""
    try:
        if path is not None:
            Container()[PluggableRunContext].reload(str(Path(path).expanduser().resolve()))
            install_providers(force=True, source_names=source_names)
        else:
            install_providers(source_names=source_names)
    except TomlProviderReadException as exc:
        raise unreadable_toml(exc) from None
    return project_dir()


def unreadable_toml(exc: TomlProviderReadException) -> ConfigError:
    """dlt's words name every folder it looked in and put the parser's reason on a second line."""
    reason = str(exc).split("\n", 1)[-1].strip() or "unreadable"
    reason = re.sub(r"character: ('.*?'|\".*?\")", "character", reason)  # never quote a secret's letter
    files = [Path(path).resolve() for path in exc.full_paths if Path(path).is_file()]
    return ConfigError(f"{files[0] if files else exc.file_name} is not valid TOML ({reason}): fix that line "
                       f"(each [section] appears once, text values are quoted)")


def open_project(path: str | Path | None = None, workbook: str | Path | None = None) -> Path:
    """The project of a command: `path` (--project-dir) when given, else the one `discover_project` finds
    from the workbook or the current folder; dlt's providers are pointed at its `.dlt/`."""
    return use_project(path if path is not None else discover_project(workbook))


def _missing_help(section: str) -> str:
    folder = project_dir() / ".dlt"
    return (f"Add them to {folder / 'secrets.toml'} under [{section}] (the project folder is {project_dir()}; "
            f"pass --project-dir to use another) or to any provider listed in docs/secrets.md.")


def resolve_section(spec: type[TSpec], sections: tuple[str, ...], what: str) -> ResolvedCredentials[TSpec]:
    """Resolve every field of `spec` at exactly `sections`; raise one error listing all that is missing."""
    values: dict[str, Any] = {}
    served_by: dict[str, str] = {}
    missing: list[str] = []
    defaults = spec()
    providers = active_providers()
    for name, hint in spec.get_resolvable_fields().items():
        found = lookup(name, sections, hint, providers)
        if found.value is not None:
            values[name] = found.value
            served_by[name] = found.provider or "?"
            if is_secret_field(name):
                register_secret(found.value)
            continue
        default = getattr(defaults, name, None)
        if default is None and not is_optional_type(hint):
            missing.append(f"  {name}: tried " + ", ".join(found.tried or ("(no provider is configured)",)))
    section = ".".join(sections)
    if missing:
        raise SecretNotFoundError(
            f"{what}: missing {len(missing)} setting(s) under [{section}]:\n" + "\n".join(missing) + "\n"
            + _missing_help(section)
        )
    try:
        config = resolve_configuration(spec(), explicit_value=values, accept_partial=True)
    except ConfigurationException as exc:
        raise SecretNotFoundError(f"{what}: invalid settings under [{section}]: {first_line(str(exc))}") from exc
    return ResolvedCredentials(config, served_by)


def resolve_source_credentials(spec: type[TSpec], source_name: str) -> ResolvedCredentials[TSpec]:
    """Resolve a source's credentials and log, before any job touches the source, which stores served them."""
    resolved = resolve_section(spec, ("sources", source_name), f"source '{source_name}'")
    if resolved.providers_used:
        log.info("%s: credentials from %s", source_name, ", ".join(resolved.providers_used))
    return resolved


def lookup_setting(key: str, sections: tuple[str, ...], hint: Any = str) -> tuple[Any, str | None]:
    """One setting at exactly `sections.key` through the whole chain; returns (value, provider)."""
    found: Lookup = lookup(key, sections, hint, active_providers())
    if found.value is not None and is_secret_field(key):
        register_secret(found.value)
    return found.value, found.provider


def lookup_text(key: str, sections: tuple[str, ...]) -> tuple[str | None, str | None]:
    """A setting that must be text (a URL, a layout, a name); a number or a boolean is a `ConfigError`."""
    value, provider = lookup_setting(key, sections)
    if value is not None and not isinstance(value, str):
        name = ".".join((*sections, key))
        shown = "" if is_secret_field(key) else f" = {value!r}"
        raise ConfigError(f"setting {name}{shown} (from {provider}) is not text: write it in quotes, "
                          f'e.g. {key} = "..."')
    return value, provider
