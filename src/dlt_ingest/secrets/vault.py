"""A dlt config provider backed by a remote secret store, asked only for settings vaults hold.

Like dlt's `VaultDocProvider` it is a `ConfigProvider` that dlt queries during resolution; unlike it,
it maps each `sources.<name>.<key>` / destination setting to ONE flat vault name (see `names.py`)
instead of toml fragments, so the names match the guide's `postgres-password` convention.
"""

from __future__ import annotations

import abc
import threading
from typing import Any

from dlt.common.configuration.providers.provider import ConfigProvider

from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.names import vault_name

_MISSING = object()


class VaultProvider(ConfigProvider, abc.ABC):
    """Looks up flat vault names; `None` from `_look_vault` means "not found" and falls through.

    `_look_vault` raises `SecretProviderError` when the store is configured but fails (unreachable,
    403): that must stop the run instead of silently using a lower-priority store.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _look_vault(self, name: str) -> str | None:
        """The secret called `name`, or None when the store does not hold it."""

    def get_value(self, key: str, hint: Any, pipeline_name: str | None, *sections: str) -> tuple[Any, str]:
        name = vault_name(key, tuple(sections))
        if pipeline_name or name is None:
            return None, name or ".".join((*sections, key))
        with self._lock:
            cached = self._cache.get(name, _MISSING)
        if cached is _MISSING:
            cached = self._look_vault(name)
            with self._lock:
                self._cache[name] = cached
        if cached is not None:
            register_secret(cached)  # everything in a vault is treated as secret
        return cached, name

    @property
    def supports_secrets(self) -> bool:
        return True

    @property
    def supports_sections(self) -> bool:
        return True

    @property
    def is_empty(self) -> bool:
        return False
