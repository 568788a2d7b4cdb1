"""REST APIs through dlt's `rest_api_source`: one workbook row is one endpoint of one API.

The API itself (base_url, authentication, default query parameters, retry limits) lives under
`[sources.<source_name>]` in any secret provider; the row says which endpoint, how it pages, where the
records sit and, for INCREMENTAL, which record field is the cursor and which query parameter gets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, cast

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.rest_client.auth import (
    APIKeyAuth,
    AuthConfigBase,
    BearerTokenAuth,
    HttpBasicAuth,
    OAuth2ClientCredentials,
)
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source
from requests import Session

from dlt_ingest.errors import ApiError, ApiUnreachable, CredentialsRejected, OriginRefused, SourceError
from dlt_ingest.redaction import register_secret
from dlt_ingest.sources.api.http import FailureTranslator, RetrySettings, api_session
from dlt_ingest.sources.api.numbers import number_check
from dlt_ingest.sources.api.options import (
    check_data_selector,
    check_params,
    cursor_value,
    endpoint_problems,
    parse_paginator,
)
from dlt_ingest.sources.api.origin import OriginGuard
from dlt_ingest.sources.api.paging import checked_paginator
from dlt_ingest.sources.base import LakeColumns, PreparedSource, SourceModule, SourceSession
from dlt_ingest.workbook.credentials import is_secret_parameter
from dlt_ingest.workbook.model import Job

AUTH_TYPES = ("none", "api_key", "bearer", "basic", "oauth2")


@configspec
class ApiCredentials(BaseConfiguration):
    """`[sources.<name>]` of an API. Field names avoid 'key'/'token' unless the value is a secret."""

    base_url: str = None  # type: ignore[assignment]
    auth_type: str | None = None  # one of AUTH_TYPES; inferred from the fields that are set when empty
    api_key: TSecretStrValue | None = None
    auth_header: str | None = None  # header that carries api_key (default Authorization)
    auth_query_param: str | None = None  # send api_key as this query parameter instead of a header
    token: TSecretStrValue | None = None  # bearer token
    username: str | None = None
    password: TSecretStrValue | None = None
    client_id: str | None = None  # OAuth2 client credentials
    client_secret: TSecretStrValue | None = None
    oauth2_url: str | None = None  # the OAuth2 token endpoint
    scopes: str | None = None  # space-separated
    params: dict[str, Any] | None = None  # `[sources.<name>.params]`: query parameters of every endpoint
    max_attempts: int | None = None
    backoff_factor: float | None = None
    max_retry_delay: float | None = None
    timeout: float | None = None
    response_deadline: float | None = None  # seconds for one whole response (headers and body)
    max_response_mb: float | None = None  # the largest response body, decoded, in MiB


@configspec
class _OAuth2ClientCredentials(OAuth2ClientCredentials):
    """dlt's client-credentials flow, with our session so a refused token request fails like an API call."""

    def obtain_token(self) -> None:
        super().obtain_token()
        register_secret(self.access_token)


def auth_type_of(credentials: ApiCredentials) -> str:
    if credentials.auth_type:
        return str(credentials.auth_type).strip().lower()
    if credentials.api_key:
        return "api_key"
    if credentials.token:
        return "bearer"
    if credentials.client_id or credentials.client_secret:
        return "oauth2"
    if credentials.username or credentials.password:
        return "basic"
    return "none"


_NEEDS: dict[str, tuple[str, ...]] = {
    "api_key": ("api_key",),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "oauth2": ("client_id", "client_secret", "oauth2_url"),
}


def build_auth(credentials: ApiCredentials, source_name: str, token_session: Session | None = None
               ) -> AuthConfigBase | None:
    """A resolved dlt authenticator for the configured auth type (nothing printed, every secret registered).

    `token_session` is the session bound to the OAuth2 token endpoint's origin (oauth2 only)."""
    kind = auth_type_of(credentials)
    section = f"[sources.{source_name}]" if source_name else "the source's section"
    if kind not in AUTH_TYPES:
        raise SourceError(f"auth_type '{kind}' under {section} is not known: use one of {', '.join(AUTH_TYPES)}")
    missing = [name for name in _NEEDS.get(kind, ()) if not getattr(credentials, name)]
    if missing:
        raise SourceError(f"auth_type {kind} needs {', '.join(missing)} under {section}")

    def value(name: str) -> str:
        return str(getattr(credentials, name))

    auth: AuthConfigBase | None = None
    if kind == "api_key":
        if credentials.auth_query_param:
            auth = APIKeyAuth(name=value("auth_query_param"), api_key=value("api_key"), location="query")
        else:
            auth = APIKeyAuth(name=credentials.auth_header or "Authorization", api_key=value("api_key"))
    elif kind == "bearer":
        auth = BearerTokenAuth(token=value("token"))
    elif kind == "basic":
        register_secret(f"{value('username')}:{value('password')}")  # and its base64: the header's value
        auth = HttpBasicAuth(username=value("username"), password=value("password"))
    elif kind == "oauth2":
        if token_session is None:
            raise SourceError(f"auth_type oauth2 under {section} needs a session for its token endpoint")
        register_secret(credentials.client_id)
        scopes = " ".join(str(credentials.scopes or "").replace(",", " ").split())
        auth = _OAuth2ClientCredentials(
            access_token_url=value("oauth2_url"), client_id=value("client_id"),
            client_secret=value("client_secret"), access_token_request_data={"scope": scopes} if scopes else {},
            session=token_session,
        )
    return auth.resolve() if auth is not None else None  # resolved: dlt must not look these up again


@contextmanager
def api_client(credentials: ApiCredentials, job_name: str, source_name: str
               ) -> Iterator[tuple[Session, AuthConfigBase | None]]:
    """The job's session, bound to base_url's origin, and its authenticator; an OAuth2 token endpoint gets its
    own session bound to oauth2_url's origin (its client secret goes there and nowhere else)."""
    base_url = str(credentials.base_url).rstrip("/")
    section = f"[sources.{source_name}]" if source_name else "the source's section"
    prefix = f"{job_name}: " if job_name else ""
    translator = FailureTranslator(job_name, source_name, base_url, RetrySettings.from_config(credentials, section))
    with ExitStack() as sessions:
        session = sessions.enter_context(api_session(translator, OriginGuard(base_url, prefix, section)))
        token_session = None
        if auth_type_of(credentials) == "oauth2" and credentials.oauth2_url:
            guard = OriginGuard(str(credentials.oauth2_url), prefix, section, setting="oauth2_url")
            token_session = sessions.enter_context(api_session(translator, guard))
        yield session, build_auth(credentials, source_name, token_session)


class ApiSource(SourceModule[ApiCredentials]):
    type_name = "api"
    credentials_spec = ApiCredentials

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        return endpoint_problems(job)

    def describe_target(self, credentials: ApiCredentials) -> str:
        return str(credentials.base_url)

    def test_connection(self, credentials: ApiCredentials) -> None:
        """One GET of base_url with the configured auth: refused credentials, a redirect to another origin or no
        answer fail, any other reply passes."""
        with api_client(credentials, "", "") as (session, auth):
            try:
                session.get(credentials.base_url, auth=auth)
            except (CredentialsRejected, ApiUnreachable, OriginRefused):
                raise
            except (ApiError, IgnoreResponseException):
                pass  # the server answered (an error page at the root is normal for an API)

    @contextmanager
    def prepare(self, job: Job, source_session: SourceSession[ApiCredentials], lake: LakeColumns | None = None
                ) -> Iterator[PreparedSource]:
        credentials = source_session.credentials
        base_url = str(credentials.base_url).rstrip("/") + "/"
        with api_client(credentials, job.name, job.source_name) as (session, auth):
            config: dict[str, Any] = {
                "client": {"base_url": base_url, "auth": auth, "session": session},
                "resources": [self.resource_config(job, credentials)],
            }
            source = rest_api_source(cast(RESTAPIConfig, config), name=job.dataset_name)
            for resource in source.resources.values():
                resource.add_map(number_check(job.name, job.table_name))
            yield PreparedSource(source, [])

    def resource_config(self, job: Job, credentials: ApiCredentials) -> dict[str, Any]:
        """dlt's `EndpointResource` for this row."""
        try:
            params = {**check_params(credentials.params, f"[sources.{job.source_name}.params]"),
                      **check_params(job.extra.get("api_params"), "api_params")}
        except ValueError as exc:
            raise SourceError(f"{job.name}: {exc}") from None
        for name, value in params.items():  # e.g. an api_key kept in [sources.<name>.params] of secrets.toml
            if is_secret_parameter(str(name)):
                register_secret(value)
        endpoint: dict[str, Any] = {"path": str(job.api_endpoint).lstrip("/"), "params": params}
        paginator = parse_paginator(job.extra.get("paginator"))
        endpoint["paginator"] = checked_paginator(job.name, endpoint["path"], paginator, job.primary_key)
        selector = check_data_selector(job.extra.get("data_selector"))
        if selector:
            endpoint["data_selector"] = selector
        if job.is_incremental and job.watermark_column:
            endpoint["incremental"] = {
                "cursor_path": job.watermark_column,
                "initial_value": cursor_value(job.last_watermark),
                "start_param": job.extra.get("cursor_param") or None,
            }
        resource: dict[str, Any] = {"name": job.table_name, "endpoint": endpoint, "write_disposition": "append"}
        if job.primary_key:
            resource["primary_key"] = list(job.primary_key)
        return resource
