"""The lake: dlt's filesystem destination with the date-partitioned Parquet layout.

With nothing configured the lake is the local folder `./lake`. `[destination.filesystem]` in any
provider (bucket_url, layout, credentials, kwargs) takes over, exactly as dlt reads it. The guide's
secret names `adls-storage-account-name` / `adls-storage-account-key` are accepted too when dlt's own
`credentials.azure_storage_account_*` are not set.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pendulum
from dlt.common.configuration.specs import AzureCredentials
from dlt.common.destination import Destination

from dlt_ingest.destinations.filesystem.azure import is_azure_url
from dlt_ingest.destinations.filesystem.resolved import ResolvedOnceFilesystem
from dlt_ingest.errors import ConfigError
from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.chain import lookup_setting, lookup_text
from dlt_ingest.secrets.names import is_secret_field

DEFAULT_LAYOUT = "{table_name}/{YYYY}/{MM}/{DD}/{load_id}.{file_id}.{ext}"
DEFAULT_BUCKET = "lake"
_SECTIONS = ("destination", "filesystem")
_CREDENTIAL_SECTIONS = (*_SECTIONS, "credentials")
GUIDE_ACCOUNT_NAMES = ("adls-storage-account-name", "adls_storage_account_name")
GUIDE_ACCOUNT_KEYS = ("adls-storage-account-key", "adls_storage_account_key")
_BUILD_LOCK = threading.Lock()
_DATASET_LOCK = threading.Lock()


def _is_local(url: str) -> bool:
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/"))


@dataclass(frozen=True)
class LakeTarget:
    """Where and how files are written; safe to print (no credentials inside)."""

    bucket_url: str
    layout: str = DEFAULT_LAYOUT
    # only set from the guide's secret names; otherwise dlt resolves [destination.filesystem.credentials]
    credentials: AzureCredentials | None = field(default=None, repr=False, compare=False)
    # the date the folders are named after; None = the load's own time (dlt's default)
    current_datetime: pendulum.DateTime | None = None
    # fsspec kwargs (e.g. an emulator connection string), passed explicitly so dlt's trace never records them
    fs_kwargs: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # the run's shared destination and ready datasets: mutable containers, as the dataclass is frozen
    _built: dict[str, Destination[Any, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _datasets_ready: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        return _is_local(self.bucket_url)

    @property
    def is_azure(self) -> bool:
        return is_azure_url(self.bucket_url)

    def destination(self) -> Destination[Any, Any]:
        """One destination per lake, shared by the run's jobs, so its resolved configuration is reused."""
        with _BUILD_LOCK:
            built = self._built.get("destination")
            if built is None:
                explicit: dict[str, Any] = {"bucket_url": self.bucket_url, "layout": self.layout}
                if self.credentials is not None:
                    explicit["credentials"] = self.credentials
                if self.current_datetime is not None:
                    explicit["current_datetime"] = self.current_datetime
                if self.fs_kwargs is not None:
                    explicit["kwargs"] = self.fs_kwargs
                built = self._built["destination"] = ResolvedOnceFilesystem(**explicit)
            return built

    def ensure_dataset(self, pipeline: Any) -> None:
        """Create the pipeline's dataset folder in the lake once, before any job of the run loads into it.

        dlt creates it on a job's first load with a `makedirs` that fails when the folder already exists,
        so two jobs of one source loading into a new lake at the same moment would race; here the first
        one creates it under a lock and the others find it ready.
        """
        dataset = str(pipeline.dataset_name)
        if dataset in self._datasets_ready:
            return
        with _DATASET_LOCK:
            if dataset not in self._datasets_ready:
                with pipeline.destination_client() as client:
                    if not client.is_storage_initialized():
                        client.initialize_storage()
                self._datasets_ready.add(dataset)

    def display(self) -> str:
        return self.bucket_url


def validate_layout(layout: str) -> None:
    if "{table_name}" not in layout:
        raise ConfigError(
            f"destination layout '{layout}' has no {{table_name}}: every table needs its own folder, "
            f"e.g. {DEFAULT_LAYOUT}"
        )
    before = layout.split("{table_name}", 1)[0]
    leftover = before.replace("{schema_name}", "")
    if "{" in leftover or (leftover.strip("/") and "{schema_name}" not in before):
        raise ConfigError(
            f"destination layout '{layout}': dlt allows only {{schema_name}} before {{table_name}}; "
            f"move the other parts after it, e.g. {DEFAULT_LAYOUT}"
        )
    if not any(p in layout for p in ("{load_id}", "{file_id}")):
        raise ConfigError(
            f"destination layout '{layout}' has neither {{load_id}} nor {{file_id}}: files of later runs "
            f"would overwrite earlier ones; end it with {{load_id}}.{{file_id}}.{{ext}}"
        )


def _first_setting(names: tuple[str, ...]) -> Any:
    for name in names:
        value, _ = lookup_setting(name, ())
        if value is not None:
            return value
    return None


def guide_named_credentials() -> AzureCredentials | None:
    """Credentials from the guide's names, only when dlt's own account name is not configured.

    The result is left unresolved on purpose: dlt fills in any other field (SAS token, host) itself.
    """
    configured, _ = lookup_setting("azure_storage_account_name", _CREDENTIAL_SECTIONS)
    if configured is not None:
        return None
    account = _first_setting(GUIDE_ACCOUNT_NAMES)
    if account is None:
        return None
    credentials = AzureCredentials()
    credentials.azure_storage_account_name = str(account)
    key = _first_setting(GUIDE_ACCOUNT_KEYS)
    if key is not None:  # lookup_setting registered it for redaction (a "key" field)
        credentials.azure_storage_account_key = str(key)
    return credentials


def configured_datetime() -> pendulum.DateTime | None:
    """`current_datetime` under [destination.filesystem] as the pendulum value dlt's layout needs.

    dlt itself coerces a configured value to a plain `datetime`, which its path renderer cannot format.
    """
    value, _ = lookup_setting("current_datetime", _SECTIONS, Any)
    if value is None or value == "":
        return None
    try:
        parsed = pendulum.instance(value) if isinstance(value, datetime) else pendulum.parse(str(value))
    except ValueError:
        parsed = None
    if not isinstance(parsed, pendulum.DateTime):
        raise ConfigError(f"[destination.filesystem] current_datetime '{value}' is not a date and time; "
                          f"use ISO 8601, e.g. 2026-02-12T00:00:00Z, or remove it to use the load time")
    return parsed


def configured_fs_kwargs() -> dict[str, Any] | None:
    """`[destination.filesystem.kwargs]`, read here and handed to dlt explicitly.

    dlt writes every provider-resolved value that is not typed as a secret into the pipeline's
    trace.pickle; a `connection_string` in `kwargs` would land there in clear text.
    """
    value, _ = lookup_setting("kwargs", _SECTIONS, Any)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise ConfigError("[destination.filesystem] kwargs must be a table (or a JSON object in an environment "
                          "variable), e.g. [destination.filesystem.kwargs] connection_string = \"...\"")
    for name, item in value.items():
        if is_secret_field(name):
            register_secret(item)
    return dict(value)


def lake_target(bucket_url: str | None = None, project: Path | None = None) -> LakeTarget:
    """Build the lake from `[destination.filesystem]`, with `<project>/lake` when nothing is configured.

    A relative local `bucket_url` from the settings is taken from the project folder; one passed in (a
    command-line flag) from the current folder, like any path typed on a command line.
    """
    configured, _ = lookup_text("bucket_url", _SECTIONS)
    url = bucket_url or configured or DEFAULT_BUCKET
    if _is_local(url):
        path = Path(url[len("file://"):] if url.startswith("file://") else url).expanduser()
        if not path.is_absolute() and not bucket_url and project is not None:
            path = project / path
        url = path.resolve().as_uri()
    layout, _ = lookup_text("layout", _SECTIONS)
    layout = layout or DEFAULT_LAYOUT
    validate_layout(layout)
    credentials = guide_named_credentials() if is_azure_url(url) else None
    return LakeTarget(url, layout, credentials, configured_datetime(), configured_fs_kwargs())
