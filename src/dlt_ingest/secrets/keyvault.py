"""Azure Key Vault: active when `AZURE_KEY_VAULT_URL` (or `[ingest] azure_key_vault_url`) is set.

Authentication: a credential handed in by the embedding code (`use_key_vault_client_options`), else a
service principal whose `client-id`, `client-secret` and `tenant-id` live in a Databricks secret scope
(default `azure-keyvault-auth`, as the guide sets it up), else azure-identity's DefaultAzureCredential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlt_ingest.errors import SecretProviderError
from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.databricks import DEFAULT_TIMEOUT_SECONDS, DatabricksSecretsProvider
from dlt_ingest.secrets.environ import register_sdk_environment
from dlt_ingest.secrets.vault import VaultProvider

KEYVAULT_URL_ENV = "AZURE_KEY_VAULT_URL"
DEFAULT_AUTH_SCOPE = "azure-keyvault-auth"


@dataclass
class KeyVaultClientOptions:
    """How to build the `SecretClient`: a ready credential and extra client keyword arguments."""

    credential: Any = None
    client_kwargs: dict[str, Any] = field(default_factory=dict)


_OPTIONS = KeyVaultClientOptions()


def use_key_vault_client_options(credential: Any = None, **client_kwargs: Any) -> None:
    """Seam for embedding code (and tests): use this credential / these `SecretClient` options."""
    _OPTIONS.credential = credential
    _OPTIONS.client_kwargs = dict(client_kwargs)


def key_vault_credential(databricks: Any = None, auth_scope: str = DEFAULT_AUTH_SCOPE) -> Any:
    """The credential to use: injected, else a Databricks-held service principal, else the default chain."""
    register_sdk_environment()
    if _OPTIONS.credential is not None:
        return _OPTIONS.credential
    try:
        from azure.identity import ClientSecretCredential, DefaultAzureCredential
    except ImportError as exc:
        raise SecretProviderError(
            "Azure Key Vault is configured but azure-identity is not installed: pip install 'dlt-ingest[azure]'"
        ) from exc
    if databricks is not None:
        principal = DatabricksSecretsProvider(auth_scope, databricks.profile, databricks._client)
        parts = {k: principal._look_vault(k) for k in ("client-id", "client-secret", "tenant-id")}
        tenant, client_id, client_secret = parts["tenant-id"], parts["client-id"], parts["client-secret"]
        if tenant and client_id and client_secret:
            register_secret(client_secret)
            return ClientSecretCredential(tenant, client_id, client_secret)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


class KeyVaultProvider(VaultProvider):
    """Secrets of one Key Vault, named `<source>-<key>` (e.g. `postgres-password`)."""

    def __init__(self, vault_url: str, credential_factory: Any = None, client: Any = None,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.vault_url = vault_url
        self.timeout_seconds = timeout_seconds
        self._credential_factory = credential_factory or key_vault_credential
        self._client = client

    @property
    def name(self) -> str:
        return "Azure Key Vault"

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from azure.keyvault.secrets import SecretClient
            except ImportError as exc:
                raise SecretProviderError(
                    "Azure Key Vault is configured but azure-keyvault-secrets is not installed: "
                    "pip install 'dlt-ingest[azure]'"
                ) from exc
            # bounded: an unreachable vault fails within timeout_seconds (azure-core waits minutes by default)
            half = max(1, int(self.timeout_seconds // 2))
            options: dict[str, Any] = {"retry_total": 1, "retry_backoff_factor": 0.5, "timeout": self.timeout_seconds,
                                       "connection_timeout": half, "read_timeout": half}
            options.update(_OPTIONS.client_kwargs)
            self._client = SecretClient(self.vault_url, self._credential_factory(), **options)
        return self._client

    def _failure(self, action: str, exc: Exception) -> SecretProviderError:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        if isinstance(exc, TimeoutError | ServiceResponseError):
            return SecretProviderError(
                f"Azure Key Vault {self.vault_url} failed while {action}: no answer within {self.timeout_seconds:g} s "
                f"-- check AZURE_KEY_VAULT_URL and the network.")
        if isinstance(exc, ServiceRequestError):
            hint = "the vault cannot be reached: check AZURE_KEY_VAULT_URL and the network"
        elif isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) != 403:
            hint = "cannot authenticate: check the identity (az login, managed identity or service principal)"
        elif isinstance(exc, HttpResponseError) and exc.status_code == 403:
            hint = "access denied (403): grant this identity 'get' and 'list' permissions on secrets"
        else:
            hint = "check the vault URL and this identity's permissions"
        first = str(exc).splitlines()[0] if str(exc) else ""
        return SecretProviderError(
            f"Azure Key Vault {self.vault_url} failed while {action}: {type(exc).__name__}: {first} -- {hint}."
        )

    def _look_vault(self, name: str) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return str(self.client.get_secret(name).value)
        except SecretProviderError:
            raise
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            raise self._failure(f"reading '{name}'", exc) from None

    def put(self, values: dict[str, str]) -> list[str]:
        try:
            for name, value in values.items():
                self.client.set_secret(name, value)
        except SecretProviderError:
            raise
        except Exception as exc:
            raise self._failure("writing secrets", exc) from None
        return list(values)
