"""The one place that knows every resolved secret value and masks it wherever text leaves the process.

Every credential resolved by the secret chain is registered here; the logging filter, the audit
writer, the console and the error boundary all pass text through `redact`.
"""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values ("1", "yes") would mask ordinary words


class SecretRegistry:
    """Thread-safe set of secret strings (and their URL-encoded forms) to mask."""

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
        # as-is, URL-encoded (a password inside a connection URL), and escaped the way a driver or a
        # repr()/JSON dump quotes it inside an error message
        forms = {text, quote(text, safe=""), quote(text), quote_plus(text), repr(text)[1:-1], json.dumps(text)[1:-1]}
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
        return text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._ordered = []


SECRETS = SecretRegistry()


def register_secret(value: object) -> None:
    SECRETS.register(value)


def redact(text: object) -> str:
    return SECRETS.redact(str(text))


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (args merged) and in its traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
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
        return True
