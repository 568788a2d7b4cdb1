"""Databricks secrets: on a cluster through the SDK's `dbutils`, elsewhere through the Secrets API.

Active when `DATABRICKS_RUNTIME_VERSION` is set (a cluster), or when a workspace is configured for
the SDK (`DATABRICKS_HOST`, or a profile in `DATABRICKS_CONFIG_PROFILE` / `[ingest] databricks_profile`).
A default `~/.databrickscfg` profile alone does not switch it on: configure the host or profile.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import requests

from dlt_ingest.errors import SecretProviderError, first_line
from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.environ import register_sdk_environment
from dlt_ingest.secrets.vault import VaultProvider

DEFAULT_SCOPE = "dlt-framework"
ON_CLUSTER = "DATABRICKS_RUNTIME_VERSION"


def databricks_configured(profile: str | None) -> bool:
    return bool(os.environ.get(ON_CLUSTER) or os.environ.get("DATABRICKS_HOST")
                or os.environ.get("DATABRICKS_CONFIG_PROFILE") or profile)


DEFAULT_TIMEOUT_SECONDS = 10  # a store that has not answered by then has failed (one line naming it and its host)
SDK_SECRET_FIELDS = ("token", "password", "client_secret", "azure_client_secret", "google_credentials")


def workspace_client(profile: str | None = None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Any:
    """A `WorkspaceClient` from the SDK's own configuration (environment, profile, cluster identity).

    The SDK first asks the host for its metadata, then makes the call: each gets half of the budget (its
    retries included), so an unreachable workspace fails within `timeout_seconds`, not minutes.
    """
    try:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config
    except ImportError as exc:
        raise SecretProviderError(
            "Databricks secrets are configured but databricks-sdk is not installed: "
            "pip install 'dlt-ingest[databricks]'"
        ) from exc
    half = max(1, int(timeout_seconds // 2))
    options: dict[str, Any] = {"retry_timeout_seconds": half, "http_timeout_seconds": half}
    if profile:
        options["profile"] = profile
    register_sdk_environment()
    try:
        config = Config(**options)
        for name in SDK_SECRET_FIELDS:  # also what a ~/.databrickscfg profile holds
            register_secret(getattr(config, name, None))
        return WorkspaceClient(config=config)
    except Exception as exc:
        raise SecretProviderError(
            f"Databricks secrets at {_configured_host(profile)}: cannot configure the workspace client "
            f"({type(exc).__name__}: {first_line(str(exc))}); set DATABRICKS_HOST and DATABRICKS_TOKEN or a valid "
            "profile."
        ) from exc


def _configured_host(profile: str | None) -> str:
    host = os.environ.get("DATABRICKS_HOST")
    if host:
        return host
    return f"profile {profile}" if profile else "the cluster's workspace"


def _is_unreachable(exc: Exception) -> bool:
    """The SDK gave up waiting (its retry budget ran out) or could not connect at all."""
    unreachable = isinstance(exc, TimeoutError | requests.ConnectionError | requests.Timeout)
    return unreachable or "timed out" in str(exc).lower()


def _is_not_found(exc: Exception) -> bool:
    from databricks.sdk.errors import NotFound

    return isinstance(exc, NotFound) or "does not exist" in str(exc).lower()


class DatabricksSecretsProvider(VaultProvider):
    """Secrets of one Databricks secret scope, named `<source>-<key>` (e.g. `postgres-password`)."""

    def __init__(self, scope: str = DEFAULT_SCOPE, profile: str | None = None, client: Any = None,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.scope = scope
        self.profile = profile
        self.timeout_seconds = timeout_seconds
        self._client = client

    @property
    def name(self) -> str:
        return f"Databricks secrets (scope {self.scope})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = workspace_client(self.profile, self.timeout_seconds)
        return self._client

    @property
    def host(self) -> str:
        config = getattr(self._client, "config", None)
        return str(getattr(config, "host", None) or _configured_host(self.profile))

    def _failure(self, action: str, exc: Exception) -> SecretProviderError:
        reason = f"{type(exc).__name__}: {first_line(str(exc))}".rstrip(": ")
        if _is_unreachable(exc):
            return SecretProviderError(
                f"{self.name} at {self.host} failed while {action}: no answer within {self.timeout_seconds:g} s -- "
                f"check DATABRICKS_HOST (or the profile) and the network.")
        return SecretProviderError(
            f"{self.name} at {self.host} failed while {action}: {reason} -- check the workspace host and token and "
            f"that this identity may READ scope '{self.scope}'."
        )

    def _look_vault(self, name: str) -> str | None:
        try:
            if os.environ.get(ON_CLUSTER):
                return str(self.client.dbutils.secrets.get(scope=self.scope, key=name))
            response = self.client.secrets.get_secret(self.scope, name)
        except SecretProviderError:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise self._failure(f"reading '{name}'", exc) from None
        return base64.b64decode(response.value or "").decode("utf-8")

    def put(self, values: dict[str, str]) -> list[str]:
        """Create the scope when missing, then write every value; returns the names written."""
        try:
            scopes = {s.name for s in self.client.secrets.list_scopes()}
            if self.scope not in scopes:
                self.client.secrets.create_scope(self.scope)
            for name, value in values.items():
                self.client.secrets.put_secret(self.scope, name, string_value=value)
        except SecretProviderError:
            raise
        except Exception as exc:
            raise self._failure("writing secrets", exc) from None
        return list(values)
