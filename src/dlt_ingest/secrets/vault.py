"""A dlt config provider backed by a remote secret store, asked only for settings vaults hold.

Like dlt's `VaultDocProvider` it is a `ConfigProvider` that dlt queries during resolution; unlike it,
it maps each `sources.<name>.<key>` / destination setting to ONE flat vault name (see `names.py`)
instead of toml fragments, so the names match the guide's `postgres-password` convention.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from dlt.common.configuration.providers.provider import ConfigProvider

from dlt_ingest.errors import SecretProviderError
from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.names import vault_name

_MISSING = object()
T = TypeVar("T")


def within(seconds: float, call: Callable[[], T]) -> T:
    """`call()`, waiting at most `seconds` for it: a store that accepts connections and never answers must
    not hang the run (its SDK's own timeouts stop the abandoned call later; the thread never blocks exit)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="secret-store-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


class VaultProvider(ConfigProvider, abc.ABC):
    """Looks up flat vault names; `None` from `_look_vault` means "not found" and falls through.

    `_look_vault` raises `SecretProviderError` when the store is configured but fails (unreachable,
    403): that must stop the run instead of silently using a lower-priority store. A store that does not
    answer within `timeout_seconds` fails, and every later lookup fails at once with the same line.
    """

    timeout_seconds: float = 10

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._unreachable: SecretProviderError | None = None

    @abc.abstractmethod
    def _look_vault(self, name: str) -> str | None:
        """The secret called `name`, or None when the store does not hold it."""

    @abc.abstractmethod
    def _failure(self, action: str, exc: Exception) -> SecretProviderError:
        """One line naming the store, its host, what failed and the fix."""

    def _look_within_timeout(self, name: str) -> str | None:
        if self._unreachable is not None:
            raise self._unreachable
        try:
            return within(self.timeout_seconds, lambda: self._look_vault(name))
        except TimeoutError as exc:
            self._unreachable = self._failure(f"reading '{name}'", exc)
            raise self._unreachable from None

    def get_value(self, key: str, hint: Any, pipeline_name: str | None, *sections: str) -> tuple[Any, str]:
        name = vault_name(key, tuple(sections))
        if pipeline_name or name is None:
            return None, name or ".".join((*sections, key))
        with self._lock:
            cached = self._cache.get(name, _MISSING)
        if cached is _MISSING:
            cached = self._look_within_timeout(name)
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
