"""Which failures are worth another attempt, and how long to wait before it.

Transient: the network or the server hiccuped (refused or reset connections, timeouts, deadlocks,
HTTP 5xx that dlt's HTTP client did not already retry). Never transient: authentication, permission and
configuration errors, which would fail the same way again and could lock an account.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from dlt.common.runtime import signals

from dlt_ingest.errors import IngestError

_PERMANENT = re.compile(
    r"password authentication failed|authentication failed|login failed|access denied|permission denied|"
    r"not authorized|unauthorized|forbidden|invalid credentials|credentials rejected|ORA-01017|"
    r"does not exist|not found|no such table|syntax error|invalid input|invalid_grant",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"connection refused|could not connect|connection reset|connection aborted|server closed the connection|"
    r"connection (?:was )?closed|broken pipe|timed? ?out|timeout|deadlock|could not serialize|"
    r"terminating connection|too many connections|temporarily unavailable|service unavailable|"
    r"remote end closed|connection to server .* failed|network is unreachable|"
    r"\b50[0234]\b (?:server error|service unavailable|bad gateway|gateway timeout)|ORA-12541|ORA-12170|"
    r"communication link failure|TCP Provider",
    re.IGNORECASE,
)
_TRANSIENT_TYPES = (ConnectionError, TimeoutError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "exception", None), current.__cause__, current.__context__,
                      getattr(current, "orig", None)):
            if isinstance(inner, BaseException):
                stack.append(inner)


def is_transient(exc: BaseException) -> bool:
    """True when another attempt may succeed; permanent causes anywhere in the chain win."""
    texts = []
    transient_type = False
    for link in _chain(exc):
        if isinstance(link, IngestError):
            if link.transient is not None:
                return link.transient
            if not _TRANSIENT.search(link.message):
                return False
        response = getattr(link, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            if status >= 500 or status == 429:
                transient_type = True
            elif 400 <= status < 500:
                return False
        transient_type = transient_type or isinstance(link, _TRANSIENT_TYPES)
        texts.append(f"{type(link).__name__}: {link}")
    text = "\n".join(texts)
    if _PERMANENT.search(text):
        return False
    return transient_type or bool(_TRANSIENT.search(text))


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all, waiting `backoff_seconds` * 2**n between them (2 s, 4 s, 8 s by default)."""

    attempts: int = 3
    backoff_seconds: float = 2.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2, 3, ...)."""
        return float(self.backoff_seconds * (2 ** (attempt - 2)))

    def should_retry(self, attempt: int, exc: BaseException) -> bool:
        return attempt < self.attempts and not signals.was_signal_received() and is_transient(exc)


def wait(seconds: float) -> None:
    """Sleep that a Ctrl-C or SIGTERM cuts short (dlt's signal-aware sleep)."""
    if seconds > 0:
        signals.sleep(seconds)
