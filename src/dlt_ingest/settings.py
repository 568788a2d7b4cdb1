"""Reading settings from dlt's config providers at exact keys, and the run settings of dlt-ingest itself.

dlt's own resolver falls back from `sources.postgres.host` to a bare `HOST`, so an unrelated environment
variable could silently become a credential. `lookup` asks each provider, in priority order, for exactly
`sections.key` and records who answered; the secret chain builds on it.

`IngestSettings` is the `[ingest]` section of `.dlt/config.toml` (or `INGEST__<NAME>`): command-line
flags win over it, it wins over the defaults below. Relative folders are taken from the project folder.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.configuration.providers.provider import ConfigProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.known_env import DLT_PROJECT_DIR
from dlt.common.runtime.run_context import DOT_DLT, global_dir

from dlt_ingest.errors import ConfigError, SecretProviderError

ON_DATABRICKS = "DATABRICKS_RUNTIME_VERSION"


def running_on_databricks() -> bool:
    return bool(os.environ.get(ON_DATABRICKS))


def context_providers() -> list[ConfigProvider]:
    """dlt's providers for the active project, highest priority first (ours are among them once installed)."""
    return [p for p in Container()[PluggableRunContext].providers.providers if not p.is_empty]


def project_dir() -> Path:
    """The project folder dlt's run context points at (where `.dlt/` lives)."""
    return Path(Container()[PluggableRunContext].context.run_dir).resolve()


def _is_global_settings(folder: Path) -> bool:
    """`~/.dlt` (or dlt's global folder) holds dlt's settings for every project: it does not make a project."""
    dot_dlt = folder / DOT_DLT
    return dot_dlt in {(Path.home() / DOT_DLT).resolve(), Path(global_dir()).resolve()}


def find_project(start: Path) -> Path | None:
    """The nearest folder from `start` upwards that holds `.dlt/`, or None."""
    folder = start.expanduser().resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / DOT_DLT).is_dir() and not _is_global_settings(candidate):
            return candidate
    return None


def discover_project(workbook: str | Path | None = None) -> Path:
    """The project folder when none is given: `DLT_PROJECT_DIR`, else the nearest folder holding `.dlt/`
    above the workbook, else above the current folder, else the current folder."""
    if os.environ.get(DLT_PROJECT_DIR):
        return Path(os.environ[DLT_PROJECT_DIR]).expanduser().resolve()
    starts = [Path(workbook).expanduser().parent] if workbook else []
    for start in [*starts, Path.cwd()]:
        found = find_project(start)
        if found is not None:
            return found
    return Path.cwd().resolve()


@dataclass(frozen=True)
class Lookup:
    """The value at exactly `sections.key` (None when no provider holds it), who held it, what was tried."""

    value: Any
    provider: str | None
    tried: tuple[str, ...]


def lookup(key: str, sections: tuple[str, ...], hint: Any = str,
           providers: Sequence[ConfigProvider] | None = None) -> Lookup:
    """`sections.key` in each provider, highest priority first; a provider that fails stops the lookup."""
    tried: list[str] = []
    for provider in context_providers() if providers is None else providers:
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
            return Lookup(value, provider.name, tuple(tried))
    return Lookup(None, None, tuple(tried))


_TRUE, _FALSE = {"true", "yes", "y", "1", "on"}, {"false", "no", "n", "0", "off"}


def as_bool(value: Any) -> bool | None:
    """TOML booleans and the usual words; None for anything else."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    return None


def _coerce(name: str, value: Any, default: Any, sections: tuple[str, ...] = ("ingest",)) -> Any:
    """A setting from TOML or an environment variable, as the type of its default, or a located error."""
    kind = type(default)
    try:
        if kind is bool:
            flag = as_bool(value)
            if flag is None:
                raise ValueError(value)
            return flag
        return kind(value)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, kind.__name__)
        variable = "__".join((*sections, name)).upper()
        raise ConfigError(f"[{'.'.join(sections)}] {name} = {value!r} is not {expected}: fix it in .dlt/config.toml "
                          f"(or {variable})") from None


_FOLDERS = ("log_dir", "audit_dir", "working_dir")
_LOWEST = {"workers": 1, "max_jobs_per_source": 1, "retry_attempts": 1, "retry_backoff_seconds": 0,
           "reconcile_tolerance": 0, "heartbeat_seconds": 0, "lake_lease_seconds": 1, "lake_lease_wait_seconds": 0}
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: C:\\ is a Windows folder


@dataclass(frozen=True)
class IngestSettings:
    log_dir: str = "logs"
    audit_dir: str = "metadata"
    working_dir: str = ".dlt/pipelines"
    workers: int = 1
    max_jobs_per_source: int = 2
    retry_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    reconcile_tolerance: int = 0  # rows a source/lake count may differ by before it is a mismatch
    reconcile_action: str = "warn"  # warn, fail or off (see engine.reconcile)
    current_tables: bool = False  # keep a deduplicated Delta `<table>_current` beside every job with a primary_key
    detect_deletes: bool = False  # default of the workbook column `detect_deletes` (INCREMENTAL jobs with a key)
    create_container: bool = False  # create the lake's Azure container when it does not exist
    heartbeat_seconds: float = 30.0  # plain-line progress when the output is no terminal; 0 turns it off
    lake_lease_seconds: int = 300  # how long a run's lease on a job in the lake lasts without being renewed
    lake_lease_wait_seconds: float = 0.0  # how long to wait for another machine's lease before refusing

    @classmethod
    def load(cls, project: Path | None = None, **overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {}
        for item in fields(cls):
            default = item.default
            found = lookup(item.name, ("ingest",), type(default)).value
            if found is not None:
                values[item.name] = _coerce(item.name, found, default)
        if "working_dir" not in values and running_on_databricks():
            values["working_dir"] = str(Path(tempfile.gettempdir()) / "dlt-ingest" / "pipelines")
        configured = cls(**values)
        configured.check_ranges()
        settings = replace(configured, **{k: v for k, v in overrides.items() if v is not None})
        return settings.relative_to(project or project_dir())

    def check_ranges(self) -> None:
        """Numbers outside what they can mean (a limit of 0 jobs would wait forever) are a `ConfigError`."""
        for name, lowest in _LOWEST.items():
            value = getattr(self, name)
            if not math.isfinite(value) or value < lowest:
                raise ConfigError(f"[ingest] {name} = {value!r} in .dlt/config.toml (or INGEST__{name.upper()}): "
                                  f"use {lowest} or more")

    def relative_to(self, project: Path) -> IngestSettings:
        """Local folders given as relative paths, taken from the project folder (not the current directory)."""
        changed: dict[str, Any] = {}
        for name in _FOLDERS:
            value = str(getattr(self, name))
            if _URL_SCHEME.match(value):  # a bucket (az://...) or Spark's dbfs:/ (refused later, with the fix)
                continue
            path = Path(value).expanduser()
            changed[name] = str(path if path.is_absolute() else project / path)
        return replace(self, **changed)


CATALOG_SECTIONS = ("ingest", "unity_catalog")
SOURCE_PLACEHOLDER = "{source}"


@dataclass(frozen=True)
class UnityCatalogSettings:
    """`[ingest.unity_catalog]`: register each job's lake folder in Unity Catalog after the run (opt-in).

    Present when `catalog` is set. Statements go to the SQL warehouse `warehouse_id` through the SDK's
    statement execution API, or, with `use_spark = true`, to the cluster's own Spark session.
    """

    catalog: str
    schema: str = SOURCE_PLACEHOLDER  # `{source}` is the job's source_name: one schema per source
    warehouse_id: str = ""
    use_spark: bool = False
    lake_url: str = ""  # the lake's root as Databricks reads it, when it differs from bucket_url
    timeout_seconds: int = 300  # per statement, waiting for the warehouse included
    databricks_profile: str = ""  # [ingest] databricks_profile, shared with the secret provider

    @classmethod
    def load(cls) -> UnityCatalogSettings | None:
        """The section's values, or None when no catalog is configured; raises `ConfigError` when wrong."""
        defaults = cls(catalog="")
        values: dict[str, Any] = {}
        for item in fields(cls):
            sections = ("ingest",) if item.name == "databricks_profile" else CATALOG_SECTIONS
            found = lookup(item.name, sections, type(getattr(defaults, item.name))).value
            if found is not None and found != "":
                values[item.name] = _coerce(item.name, found, getattr(defaults, item.name), sections)
        if not values.get("catalog"):
            return None
        settings = cls(**values)
        if not settings.warehouse_id and not settings.use_spark:
            raise ConfigError("[ingest.unity_catalog] needs warehouse_id (a SQL warehouse) or use_spark = true "
                              "(the cluster's Spark session): set one in .dlt/config.toml")
        if settings.timeout_seconds < 1:
            raise ConfigError(f"[ingest.unity_catalog] timeout_seconds = {settings.timeout_seconds}: use 1 or more")
        return settings

    def schema_for(self, source: str) -> str:
        return self.schema.replace(SOURCE_PLACEHOLDER, source)

    @property
    def schema_per_source(self) -> bool:
        return SOURCE_PLACEHOLDER in self.schema
