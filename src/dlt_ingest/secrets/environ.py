"""Environment variables: dlt's `SOURCES__<NAME>__<KEY>` and the guide's `DLT_<NAME>_<KEY>`.

Replaces dlt's `EnvironProvider` in place (same name, same position) so there is one environment
provider that knows both forms. The guide's form is ambiguous when names contain `_`; the source
names the workbook declares decide (longest match wins). dlt's form is never ambiguous and wins.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from dlt.common.configuration.providers.environ import EnvironProvider
from dlt.common.configuration.specs.base_configuration import is_secret_hint

from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.names import DeclaredSources, guide_env_belongs_to, guide_env_name, is_secret_field

# credentials the Databricks and Azure SDKs read from the environment themselves, never through dlt
SDK_SECRET_VARIABLES = ("DATABRICKS_TOKEN", "DATABRICKS_PASSWORD", "DATABRICKS_CLIENT_SECRET",
                        "DATABRICKS_GOOGLE_CREDENTIALS", "ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET",
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_PASSWORD", "AZURE_STORAGE_KEY",
                        "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING")


def register_sdk_environment() -> None:
    """Mask the SDKs' own credentials before an SDK client makes its first request (its debug log prints
    requests and response bodies, and a server may echo a token back)."""
    for variable in SDK_SECRET_VARIABLES:
        register_secret(os.environ.get(variable))


@functools.lru_cache(maxsize=512)
def _cached_is_secret_hint(hint: Any) -> bool:
    return bool(is_secret_hint(hint))


def _may_be_secret(hint: Any) -> bool:
    """dlt's `is_secret_hint`, memoized: hints are a few types asked about thousands of times per job."""
    try:
        return _cached_is_secret_hint(hint)
    except TypeError:  # an unhashable hint
        return bool(is_secret_hint(hint))


class IngestEnvironProvider(EnvironProvider):
    """dlt's environment provider plus the guide's `DLT_<NAME>_<KEY>` names; `declared` holds the workbook's
    source names, which decide who owns an ambiguous guide name."""

    def __init__(self, declared: DeclaredSources | None = None) -> None:
        super().__init__()
        self.declared = declared or DeclaredSources()

    def get_value(self, key: str, hint: Any, pipeline_name: str | None, *sections: str) -> tuple[Any, str]:
        if _may_be_secret(hint):  # dlt also looks in /run/secrets (Kubernetes, Docker) for these
            value, dlt_key = super().get_value(key, hint, pipeline_name, *sections)  # type: ignore[arg-type]
        else:  # what dlt does for any other hint, without re-inspecting the type on each of ~1000 lookups a job
            dlt_key = self.get_key_name(key, pipeline_name, *sections)  # type: ignore[arg-type]
            value = os.environ.get(dlt_key)
        guide_key = None if pipeline_name else guide_env_name(key, tuple(sections))
        if guide_key and not guide_env_belongs_to(guide_key, tuple(sections), self.declared):
            guide_key = None  # a longer declared source name claims this variable
        if value is None and guide_key:
            value = os.environ.get(guide_key)
            if value is not None:
                dlt_key = guide_key
        if value is not None:
            if is_secret_field(key):
                register_secret(value)
            return value, dlt_key
        return None, f"{dlt_key} | {guide_key}" if guide_key else dlt_key
