"""The HTTP session of an API job: dlt's retrying client, and failures turned into one clear job error.

dlt's `Client` retries 429 and 5xx with exponential backoff and honours `Retry-After`. Around its
retrying `send` we translate what is left into `SourceError`s that name the job and the fix: rejected
credentials (never retried, never printed), an error status after the last attempt, a body that is
not JSON, a response over its time or size bound (`bounded.py`). dlt's own retry stays the only retry
of HTTP errors: these errors are not transient, so the orchestrator does not repeat the job on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests.retry import DEFAULT_RETRY_STATUS, Client
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from requests import PreparedRequest, Request, RequestException, Response, Session
from requests.exceptions import ChunkedEncodingError, ContentDecodingError

from dlt_ingest.errors import ApiError, ApiUnreachable, CredentialsRejected, SourceSettingError
from dlt_ingest.redaction import redact
from dlt_ingest.sources.api.bounded import BoundedAdapter, ResponseDeadlineExceeded, ResponseTooLarge
from dlt_ingest.sources.api.origin import OriginGuard

BODY_PREVIEW = 120
RESPONSE_DEADLINE_SECONDS = 300.0  # one whole response, headers and body: well above any sane page
MAX_RESPONSE_MB = 256.0  # one response's decoded body; its JSON takes several times that in memory


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int
    backoff_factor: float
    max_retry_delay: float
    timeout: float
    response_deadline: float = RESPONSE_DEADLINE_SECONDS
    max_response_mb: float = MAX_RESPONSE_MB

    @classmethod
    def from_config(cls, credentials: Any, section: str = "the source's section") -> RetrySettings:
        """The source's own settings, else dlt's `[runtime] request_*` settings, else dlt's defaults; a value
        that is no number of the right range is a `SourceError` naming it."""
        runtime = resolve_configuration(RuntimeConfiguration())
        return cls(
            max_attempts=int(_number(credentials, "max_attempts", runtime.request_max_attempts, 1, section, int)),
            backoff_factor=_number(credentials, "backoff_factor", runtime.request_backoff_factor, 0, section),
            max_retry_delay=_number(credentials, "max_retry_delay", runtime.request_max_retry_delay, 0, section),
            timeout=_number(credentials, "timeout", runtime.request_timeout, 0.001, section),
            response_deadline=_number(credentials, "response_deadline", RESPONSE_DEADLINE_SECONDS, 0.001, section),
            max_response_mb=_number(credentials, "max_response_mb", MAX_RESPONSE_MB, 0.001, section),
        )


def _number(credentials: Any, name: str, default: Any, lowest: float, section: str, kind: type = float) -> float:
    value = getattr(credentials, name, None)
    value = default if value is None else value
    try:
        number = float(kind(value)) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < lowest or (kind is int and float(value) != number):
        expected = "a whole number" if kind is int else "a number"
        raise SourceSettingError(f"{name} = {value!r} under {section} is not {expected} of at least {lowest:g}: fix it "
                          f"in .dlt/secrets.toml or .dlt/config.toml")
    return number


def _preview(response: Response) -> str:
    """The body's start, masked before it is cut: a secret cut in half would not be recognised."""
    text = redact(response.content[:BODY_PREVIEW * 64].decode("utf-8", errors="replace"))
    text = " ".join(text.split())
    more = "..." if len(text) > BODY_PREVIEW or len(response.content) > BODY_PREVIEW * 64 else ""
    text = text[:BODY_PREVIEW]
    return f"'{text}{more}'" if text else "(empty body)"


def _where(response: Response) -> str:
    return redact(sanitize_url(response.url or ""))


class FailureTranslator:
    """Turns a final HTTP outcome into an `ApiError` that names the job, the server and the fix."""

    def __init__(self, job_name: str, source_name: str, base_url: str, settings: RetrySettings) -> None:
        self.prefix = f"{job_name}: " if job_name else ""
        self.section = f"[sources.{source_name}]" if source_name else "the source's section"
        self.base_url = base_url
        self.settings = settings

    def rejected(self, response: Response, by: str) -> CredentialsRejected:
        return CredentialsRejected(
            f"{self.prefix}credentials rejected by {by} (HTTP {response.status_code}): check the auth "
            f"settings under {self.section} (see docs/api-sources.md#authentication)"
        )

    def status_error(self, response: Response) -> ApiError:
        status = response.status_code
        if status in (401, 403):  # the API itself, or another server such as an OAuth2 token endpoint
            url = response.url or ""
            by = self.base_url if url.startswith(self.base_url) else redact(url.split("?", 1)[0])
            return self.rejected(response, by)
        tried = (f" after {self.settings.max_attempts} attempt(s)" if status in DEFAULT_RETRY_STATUS else "")
        return ApiError(
            f"{self.prefix}HTTP {status} from {_where(response)}{tried}; body {redact(_preview(response))}"
        )

    def check(self, response: Response) -> Response:
        """Raise for a final error status or a body that is not JSON; an empty 2xx body is an empty page."""
        if response.status_code >= 400:
            raise self.status_error(response)
        if not response.content.strip():
            raise IgnoreResponseException()  # dlt's paginate ends the endpoint quietly
        try:
            response.json()
        except RecursionError:
            raise ApiError(
                f"{self.prefix}{_where(response)} returned JSON nested deeper than Python can read (HTTP "
                f"{response.status_code}); body starts {redact(_preview(response))}: check api_endpoint and "
                f"base_url, or ask the API's owner"
            ) from None
        except ValueError:
            content_type = response.headers.get("Content-Type", "no content type")
            raise ApiError(
                f"{self.prefix}{_where(response)} did not return JSON (HTTP {response.status_code}, "
                f"{content_type}); body starts {redact(_preview(response))}: check api_endpoint and base_url"
            ) from None
        return response

    def unreachable(self, exc: RequestException) -> ApiError:
        if isinstance(exc, ResponseTooLarge):
            return ApiError(
                f"{self.prefix}a response from {self._request_url(exc)} is larger than max_response_mb = "
                f"{self.settings.max_response_mb:g} MiB (decoded): lower the page size of the endpoint, or raise "
                f"max_response_mb under {self.section}"
            )
        if isinstance(exc, ResponseDeadlineExceeded):
            return ApiUnreachable(
                f"{self.prefix}{self._request_url(exc)} did not send a complete response within response_deadline = "
                f"{self.settings.response_deadline:g} s, {self.settings.max_attempts} attempt(s): the server is "
                f"overloaded or sends very slowly; try again later, lower the page size, or raise response_deadline "
                f"under {self.section}"
            )
        reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if isinstance(exc, ChunkedEncodingError | ContentDecodingError):  # the server answered, then broke off
            return ApiUnreachable(
                f"{self.prefix}the connection to {self.base_url} broke off in the middle of a response after "
                f"{self.settings.max_attempts} attempt(s) ({type(exc).__name__}: {reason[:200]}): the server or "
                f"a proxy closed it; try again later or lower the page size"
            )
        return ApiUnreachable(
            f"{self.prefix}cannot reach {self.base_url} after {self.settings.max_attempts} attempt(s) "
            f"({type(exc).__name__}: {reason[:200]}): check base_url and the network"
        )


    @staticmethod
    def _request_url(exc: RequestException) -> str:
        request = exc.request
        return redact(sanitize_url(str(request.url or ""))) if request is not None else "the server"


_PREPARED_HERE = "_dlt_ingest_prepared"  # set on requests built by the session; a redirect's copy lacks it


def api_session(translator: FailureTranslator, guard: OriginGuard) -> Session:
    """A requests session that retries like dlt, raises `ApiError`s for what retrying cannot fix, and sends
    nothing to an origin other than `guard`'s.

    Every request passes `guard` twice: when it is prepared (a paginator's next link, an absolute URL;
    before dlt's authenticator adds its header or query parameter) and when it is sent (also each hop of a
    redirect, which requests builds from the response without preparing it again).
    """
    settings = translator.settings
    client = Client(
        request_timeout=settings.timeout,
        raise_for_status=False,
        request_max_attempts=settings.max_attempts,
        request_backoff_factor=settings.backoff_factor,
        request_max_retry_delay=settings.max_retry_delay,
        respect_retry_after_header=True,
    )
    session = client.session
    bounded = BoundedAdapter(settings.response_deadline, int(settings.max_response_mb * 1024 * 1024),
                             pool_maxsize=50)  # dlt's pool size
    session.mount("http://", bounded)
    session.mount("https://", bounded)
    retrying_send = session.send
    plain_prepare = session.prepare_request

    def prepare_request(request: Request) -> PreparedRequest:
        guard.check(str(request.url), "a next-page link or absolute URL")
        prepared = plain_prepare(request)
        setattr(prepared, _PREPARED_HERE, True)
        return prepared

    def send(request: PreparedRequest, **kwargs: Any) -> Response:
        guard.check(str(request.url), "a request" if getattr(request, _PREPARED_HERE, False) else "a redirect")
        failure: ApiError | None = None
        try:
            response = retrying_send(request, **kwargs)
        except RequestException as exc:  # dlt's raise_for_status hook after the last retry, or no connection
            response_of_error = exc.response
            if response_of_error is None or isinstance(exc, ResponseTooLarge):
                failure = translator.unreachable(exc)
            else:
                failure = translator.status_error(response_of_error)
        if failure is not None:
            raise failure  # outside the except block: the HTTPError (and its URL) stays out of the chain
        if response.is_redirect and kwargs.get("allow_redirects") is False:
            return response  # one hop of a redirect chain: requests goes on to the next (through `send` again)
        return translator.check(response)

    session.prepare_request = prepare_request  # type: ignore[method-assign]
    session.send = send  # type: ignore[method-assign]
    return session
