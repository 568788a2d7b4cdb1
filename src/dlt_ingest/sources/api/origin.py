"""Credentials stay with the origin they were configured for: the scheme, host and port of `base_url`.

A paginator's `next` link, a `Link` header, an absolute URL or a redirect can point anywhere; the API
session refuses every request to another origin before it is sent (and before dlt's authenticator has
been asked for its headers or query parameters), so no bearer token, API key, basic-auth pair or OAuth2
access token ever reaches another server. The OAuth2 token endpoint gets its own session, bound to its
own origin. The check reads the URL with urllib3's parser, the one that opens the connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from dlt_ingest.errors import OriginRefused, SourceError

DEFAULT_PORTS = {"http": 80, "https": 443}
DOCS = "see docs/api-sources.md#credentials-stay-with-their-origin"


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin | None:
        """The origin of an absolute http(s) URL; None for anything else (relative, other schemes, unparsable)."""
        try:
            parsed = parse_url(url)
        except (LocationParseError, ValueError):
            return None
        scheme = (parsed.scheme or "").lower()
        if scheme not in DEFAULT_PORTS or not parsed.host:
            return None
        return cls(scheme, parsed.host.lower().rstrip("."), parsed.port or DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def _shown(url: str) -> str:
    """Where a refused request would have gone, without its query string or user info."""
    try:
        parsed = parse_url(url)
    except (LocationParseError, ValueError):
        return "an unreadable URL"
    origin = Origin.of(url)
    path = parsed.path or "/"
    return f"{origin}{path}"[:160] if origin else f"{parsed.scheme or '?'}://{parsed.host or '?'}{path}"[:160]


class OriginGuard:
    """The one origin a session may talk to; `check` raises `OriginRefused` for any other."""

    def __init__(self, bound_url: str, job_prefix: str = "", section: str = "the source's section",
                 setting: str = "base_url") -> None:
        origin = Origin.of(bound_url)
        if origin is None:
            raise SourceError(f"{job_prefix}{setting} '{bound_url[:80]}' under {section} is not an http(s) URL: "
                                f"write it as https://host/path")
        self.origin = origin
        self.prefix = job_prefix
        self.section = section
        self.setting = setting

    def allows(self, url: str) -> bool:
        return Origin.of(url) == self.origin

    def check(self, url: str, what: str) -> None:
        """`what` says how the URL came up: 'a next-page link or absolute URL', 'a redirect'."""
        target = Origin.of(url)
        if target == self.origin:
            return
        if target is not None and self.origin.scheme == "https" and target.scheme == "http":
            raise OriginRefused(
                f"{self.prefix}refused {what} to {_shown(url)}: it would downgrade {self.origin} to plain http "
                f"and send the credentials of {self.section} unencrypted; nothing was sent ({DOCS})"
            )
        raise OriginRefused(
            f"{self.prefix}refused {what} to {_shown(url)}: the credentials of {self.section} are sent only to "
            f"{self.origin} (the origin of {self.setting}), so nothing was sent there; check the paginator "
            f"settings, or ask the API's owner why it points elsewhere ({DOCS})"
        )
