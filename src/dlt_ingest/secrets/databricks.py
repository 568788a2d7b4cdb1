"""Databricks secrets: on a cluster through the SDK's `dbutils`, elsewhere through the Secrets API.

Active when `DATABRICKS_RUNTIME_VERSION` is set (a cluster), or when a workspace is configured for
the SDK (`DATABRICKS_HOST`, or a profile in `DATABRICKS_CONFIG_PROFILE` / `[ingest] databricks_profile`).
A default `~/.databrickscfg` profile alone does not switch it on: configure the host or profile.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from dlt_ingest.errors import SecretProviderError
from dlt_ingest.secrets.vault import VaultProvider

DEFAULT_SCOPE = "dlt-framework"
ON_CLUSTER = "DATABRICKS_RUNTIME_VERSION"


def databricks_configured(profile: str | None) -> bool:
    return bool(os.environ.get(ON_CLUSTER) or os.environ.get("DATABRICKS_HOST")
                or os.environ.get("DATABRICKS_CONFIG_PROFILE") or profile)


DEFAULT_TIMEOUT_SECONDS = 60


def workspace_client(profile: str | None = None, timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS) -> Any:
    """A `WorkspaceClient` from the SDK's own configuration (environment, profile, cluster identity)."""
    try:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config
    except ImportError as exc:
        raise SecretProviderError(
            "Databricks secrets are configured but databricks-sdk is not installed: "
            "pip install 'dlt-ingest[databricks]'"
        ) from exc
    # bounded retries: a configured but unreachable workspace must fail the run, not hang it
    options: dict[str, Any] = {"retry_timeout_seconds": timeout_seconds,
                               "http_timeout_seconds": min(30, timeout_seconds)}
    if profile:
        options["profile"] = profile
    try:
        return WorkspaceClient(config=Config(**options))
    except Exception as exc:
        raise SecretProviderError(
            f"Databricks secrets: cannot configure the workspace client ({type(exc).__name__}: {exc}); "
            "set DATABRICKS_HOST and DATABRICKS_TOKEN or a valid profile."
        ) from exc


def _is_not_found(exc: Exception) -> bool:
    from databricks.sdk.errors import NotFound

    return isinstance(exc, NotFound) or "does not exist" in str(exc).lower()


class DatabricksSecretsProvider(VaultProvider):
    """Secrets of one Databricks secret scope, named `<source>-<key>` (e.g. `postgres-password`)."""

    def __init__(self, scope: str = DEFAULT_SCOPE, profile: str | None = None, client: Any = None,
                 timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS) -> None:
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

    def _failure(self, action: str, exc: Exception) -> SecretProviderError:
        return SecretProviderError(
            f"{self.name} failed while {action}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            f" -- check the workspace host and token and that this identity may READ scope '{self.scope}'."
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
