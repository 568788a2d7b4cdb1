"""The one check of the lake at the start of a run, before any job touches it.

A wrong destination would otherwise fail every job the same way (and a missing container would fail
each one after a full extract); one clear line at start, exit 2, nothing run, is the useful answer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigurationException
from dlt.common.storages.configuration import FilesystemConfiguration

from dlt_ingest.destinations.filesystem.azure import check_container, locate, register_azure_secrets
from dlt_ingest.destinations.filesystem.lake import LakeTarget
from dlt_ingest.errors import ConfigError, DestinationError
from dlt_ingest.redaction import redact

log = logging.getLogger("dlt_ingest.destination")

_SECTIONS = ("destination", "filesystem")
def resolve_lake_config(lake: LakeTarget) -> Any:
    """dlt's own resolved filesystem configuration (credentials, kwargs) for this lake, read the way the
    destination reads it (same sections, same explicit values) minus the pipeline-bound fields."""
    destination = lake.destination()
    try:
        return resolve_configuration(FilesystemConfiguration(), sections=_SECTIONS,
                                     explicit_value=destination.config_params)
    except ConfigFieldMissingException as exc:
        fields = ", ".join(sorted(set(exc.fields)))
        if lake.is_azure and fields == "credentials":  # no Azure credential type resolves without an account
            fields = "azure_storage_account_name"
        raise ConfigError(
            f"destination {lake.display()}: missing {fields} under [destination.filesystem.credentials]; "
            f"add it to .dlt/secrets.toml or any secret provider (see docs/destinations.md)"
        ) from None
    except ConfigurationException as exc:
        first = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"destination {lake.display()}: invalid [destination.filesystem] settings: {first}") \
            from None


def _check_local(lake: LakeTarget) -> None:
    url = lake.bucket_url
    path = Path(url[len("file://"):] if url.startswith("file://") else url)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"lake folder {path} cannot be created: {exc.strerror}; check the path and "
                               f"permissions, or set bucket_url under [destination.filesystem]") from None


def check_lake(lake: LakeTarget, create_container: bool = False) -> None:
    """Fail once, before any job, when the lake cannot be written; create a missing container only on request."""
    if lake.is_local:
        _check_local(lake)
        return
    config = resolve_lake_config(lake)
    if not lake.is_azure:
        log.info("Destination %s: no start check for protocol %s", lake.display(), config.protocol)
        return
    register_azure_secrets(config.credentials, config.kwargs)
    location = locate(lake.bucket_url, config.credentials, config.kwargs)
    if check_container(location, config.credentials, config.kwargs, create_container):
        log.info("Created %s", location.describe())
