"""Azure Data Lake Gen2 / Blob Storage: where a bucket_url points, and one probe of the container at start.

dlt writes through adlfs; the probe uses the same resolved dlt configuration (credentials and the
destination's `kwargs`, e.g. an emulator connection string) with the synchronous Azure SDK, so a missing
container, rejected credentials or unreachable storage fail the run once, before any job, in one line
that names the account and container and never the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from dlt_ingest.errors import DestinationError
from dlt_ingest.redaction import register_secret
from dlt_ingest.secrets.environ import register_sdk_environment

AZURE_PROTOCOLS = ("az", "abfs", "abfss", "adl", "azure")
_CREDENTIALS_SECTION = "[destination.filesystem.credentials]"


def is_azure_url(url: str) -> bool:
    return urlparse(url).scheme in AZURE_PROTOCOLS


@dataclass(frozen=True)
class AzureLocation:
    """Account, container and folder prefix of an az:// or abfss:// bucket_url."""

    account: str
    container: str
    prefix: str

    def describe(self) -> str:
        return f"storage account '{self.account}', container '{self.container}'"

    def abfss_url(self) -> str:
        """The same place as Databricks and Unity Catalog spell it."""
        return f"abfss://{self.container}@{self.account}.dfs.core.windows.net/{self.prefix}".rstrip("/")


def _connection_string_parts(connection_string: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in connection_string.split(";"):
        name, sep, value = item.partition("=")
        if sep:
            parts[name.strip().lower()] = value.strip()
    return parts


def locate(bucket_url: str, credentials: Any = None, fs_kwargs: dict[str, Any] | None = None) -> AzureLocation:
    """Account/container/prefix: `az://container/prefix` takes the account from the credentials (or the
    connection string), `abfss://container@account.dfs.core.windows.net/prefix` from the host."""
    url = urlparse(bucket_url)
    if url.username:  # abfss://container@account.dfs.core.windows.net/prefix
        container = url.username
        account = (url.hostname or "").split(".", 1)[0]
    else:
        container, account = url.netloc, ""
    if not account:
        account = getattr(credentials, "azure_storage_account_name", None) or ""
    connection_string = (fs_kwargs or {}).get("connection_string")
    if not account and connection_string:
        account = _connection_string_parts(str(connection_string)).get("accountname", "")
    return AzureLocation(account or "?", container, url.path.strip("/"))


def register_azure_secrets(credentials: Any, fs_kwargs: dict[str, Any] | None) -> None:
    """Every secret the Azure settings carry goes to the redaction registry, also the key inside a connection
    string (it may end up in an exception text)."""
    for name in ("azure_storage_account_key", "azure_storage_sas_token", "azure_client_secret"):
        register_secret(getattr(credentials, name, None))
    register_sdk_environment()  # what azure-identity and adlfs read themselves
    connection_string = (fs_kwargs or {}).get("connection_string")
    if connection_string:
        register_secret(connection_string)
        parts = _connection_string_parts(str(connection_string))
        register_secret(parts.get("accountkey"))
        register_secret(parts.get("sharedaccesssignature"))


def _account_url(location: AzureLocation, credentials: Any) -> str:
    host = getattr(credentials, "azure_account_host", None) or f"{location.account}.blob.core.windows.net"
    return f"https://{host}"


def _sdk_credential(credentials: Any) -> Any:
    """The Azure SDK credential matching dlt's resolved credentials (key, SAS, service principal, default)."""
    key = getattr(credentials, "azure_storage_account_key", None)
    if key:
        return {"account_name": credentials.azure_storage_account_name, "account_key": str(key)}
    sas = getattr(credentials, "azure_storage_sas_token", None)
    if sas:
        return str(sas)
    if getattr(credentials, "azure_client_secret", None):
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(credentials.azure_tenant_id, credentials.azure_client_id,
                                      str(credentials.azure_client_secret))
    has_default = getattr(credentials, "has_default_credentials", None)
    if has_default and has_default():
        return credentials.default_credentials()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def container_client(location: AzureLocation, credentials: Any, fs_kwargs: dict[str, Any] | None) -> Any:
    """A sync ContainerClient with a short retry budget: the probe must fail fast, jobs retry on their own."""
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=1)
    connection_string = (fs_kwargs or {}).get("connection_string")
    if connection_string:
        service = BlobServiceClient.from_connection_string(str(connection_string), retry_policy=retry)
    else:
        service = BlobServiceClient(_account_url(location, credentials), credential=_sdk_credential(credentials),
                                    retry_policy=retry)
    return service.get_container_client(location.container)


def _rejected(location: AzureLocation) -> DestinationError:
    return DestinationError(
        f"{location.describe()}: the storage service rejected the credentials; check "
        f"azure_storage_account_key, azure_storage_sas_token or the service principal under "
        f"{_CREDENTIALS_SECTION} (or the identity's role on the account)"
    )


def _translate(exc: Exception, location: AzureLocation, endpoint: str) -> DestinationError:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(exc, ClientAuthenticationError):
        if type(exc).__module__.startswith("azure.identity"):  # DefaultAzureCredential found no identity
            return DestinationError(
                f"{location.describe()}: no Azure credentials found; set azure_storage_account_key, "
                f"azure_storage_sas_token or a service principal under {_CREDENTIALS_SECTION}, or sign in "
                f"(az login, managed identity)"
            )
        return _rejected(location)
    if isinstance(exc, HttpResponseError) and exc.status_code in (401, 403):
        return _rejected(location)
    if isinstance(exc, ServiceRequestError):
        return DestinationError(
            f"{location.describe()}: storage is unreachable at {endpoint} ({type(exc).__name__}); check the "
            f"account name, the network and the account's firewall"
        )
    status = getattr(exc, "status_code", None)
    return DestinationError(f"{location.describe()}: the storage service answered "
                            f"{status or type(exc).__name__}; check the destination settings")


def check_container(location: AzureLocation, credentials: Any, fs_kwargs: dict[str, Any] | None,
                    create: bool) -> bool:
    """Probe the container; create it only when asked. Returns True when it was created."""
    client = container_client(location, credentials, fs_kwargs)
    endpoint = client.primary_endpoint.rsplit("/", 1)[0] if client.primary_endpoint else location.account
    endpoint = endpoint.split("?", 1)[0]
    try:
        if client.exists():
            return False
        if not create:
            raise DestinationError(
                f"{location.describe()} does not exist; create it, or run with --create-container "
                f"(or set create_container = true under [ingest] in .dlt/config.toml)"
            )
        client.create_container()
        return True
    except DestinationError:
        raise
    except Exception as exc:
        raise _translate(exc, location, endpoint) from None
