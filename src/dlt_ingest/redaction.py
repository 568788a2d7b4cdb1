"""The one place that knows every resolved secret value and masks it wherever text leaves the process.

Every credential resolved by the secret chain is registered here, with every form it takes on the wire
and on disk (URL-encoded, escaped, base64 in any alignment: a basic-auth header is base64 of
`user:password`). `redact` also masks what has the shape of a credential even when its value was never
registered (an `Authorization` header, `access_token=` in a query string, `"password": "..."` in a JSON
body, `user:password@` in a URL), so a token an SDK received from a server is masked in its own debug log.
`install_log_redaction` makes every log record of every library pass through `redact` when it is created,
whatever handler prints it later.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values ("1", "yes") would mask ordinary words
_MIN_BASE64_CORE = 6  # a shorter slice of a base64 text would mask unrelated base64


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)


def _base64_forms(raw: bytes) -> set[str]:
    """The secret's base64 alone (padded and not, standard and URL-safe alphabets), and the characters that
    depend only on the secret when it sits at any offset inside a longer base64 text (`user:password`)."""
    forms: set[str] = set()
    for prefix in range(3):
        encoded = base64.b64encode(b"\0" * prefix + raw).decode().rstrip("=")
        lead = (0, 2, 3)[prefix]  # characters that also carry bits of the bytes before the secret
        tail = 1 if (prefix + len(raw)) % 3 else 0  # the last one also carries bits of the bytes after it
        core = encoded[lead:len(encoded) - tail]
        if len(core) >= _MIN_BASE64_CORE:
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    whole = base64.b64encode(raw).decode()
    forms |= {whole, whole.rstrip("="), base64.urlsafe_b64encode(raw).decode(),
              base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return {form for form in forms if len(form) >= _MIN_BASE64_CORE}


def secret_forms(text: str) -> set[str]:
    """Every spelling of `text` that could end up in a message, a URL, a JSON document or a header."""
    forms = {text, quote(text, safe=""), quote(text), quote_plus(text), quote(quote(text, safe=""), safe=""),
             repr(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1],
             html.escape(text), html.escape(text, quote=False)}
    forms |= {_lower_hex(form) for form in forms if "%" in form}
    forms |= _base64_forms(text.encode("utf-8"))
    return {form for form in forms if len(form) >= _MIN_SECRET_LENGTH}


_SECRET_NAME = (r"(?:access|refresh|id|auth|api|client|session|private|secret|subscription|account)?[_-]?"
                r"(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|access[_-]?key|account[_-]?key|sig|signature"
                r"|sharedaccesssignature|accountkey|credential|credentials)")
_STRUCTURAL: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # user:password@ inside any URL (connection strings, proxies)
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@\"']+:)([^\s@/\"']+)(@)"),
     lambda m: m.group(1) + MASK + m.group(3)),
    # an HTTP authorization header or key header, as logged, dumped or quoted: `Authorization: Bearer x`
    (re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|ocp-apim-subscription-key)"
                r"([\"']?\s*[:=]\s*[\"']?)([^\"'\r\n,;}]+)"),
     lambda m: m.group(1) + m.group(2) + MASK),
    # a scheme and token anywhere else (`Bearer eyJ...`, `Basic dXNlcjpw...`): tokens carry digits or symbols
    (re.compile(r"(?i)\b(bearer|basic)(\s+)(?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/=-]{8,}"),
     lambda m: m.group(1) + m.group(2) + MASK),
    # "password": "x", 'client_secret': 'x' (JSON bodies, dict reprs)
    (re.compile(r"(?i)([\"'])(" + _SECRET_NAME + r")\1(\s*:\s*)([\"'])((?:\\.|(?!\4).)*)(\4|$)"),
     lambda m: m.group(1) + m.group(2) + m.group(1) + m.group(3) + m.group(4) + MASK + m.group(6)),
    # access_token=x in query strings and form bodies; Password=x; in connection strings
    (re.compile(r"(?i)(^|[?&;\s\"'{,(])(" + _SECRET_NAME + r"|key)(\s*=)([^&\s\"'#;,)]+)"),
     lambda m: m.group(1) + m.group(2) + m.group(3) + MASK),
]


def mask_credential_shapes(text: str) -> str:
    """Mask what looks like a credential by its shape, whether or not its value is known."""
    for pattern, replace in _STRUCTURAL:
        text = pattern.sub(replace, text)
    return text


class SecretRegistry:
    """Thread-safe set of secret strings (and every encoded form of them) to mask."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._ordered: list[str] = []

    def register(self, value: object) -> None:
        if value is None:
            return
        text = str(value)
        if len(text) < _MIN_SECRET_LENGTH:
            return
        forms = secret_forms(text)
        with self._lock:
            new = forms - self._values
            if not new:
                return
            self._values |= new
            # longest first, so a secret that contains another is masked whole
            self._ordered = sorted(self._values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        ordered = self._ordered
        for value in ordered:
            if value in text:
                text = text.replace(value, MASK)
        return mask_credential_shapes(text)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._ordered = []


SECRETS = SecretRegistry()


def register_secret(value: object) -> None:
    SECRETS.register(value)


def redact(text: object) -> str:
    return SECRETS.redact(str(text))


def redact_record(record: logging.LogRecord) -> None:
    """Mask secrets in a record's final message (args merged) and in its traceback text, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: keep it rather than lose it
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    record.exc_info = None if record.exc_text else record.exc_info
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (args merged) and in its traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class _RedactingFactory:
    """The log record factory: every record of every logger is redacted as it is made, before any handler
    (ours, dlt's own, a library's, logging's last resort) can print it."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        redact_record(record)
        return record


_INSTALL_LOCK = threading.Lock()


def install_log_redaction() -> None:
    """Redact every log record from now on (idempotent); called when a command or a run starts."""
    with _INSTALL_LOCK:
        if not isinstance(logging.getLogRecordFactory(), _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(logging.getLogRecordFactory()))
