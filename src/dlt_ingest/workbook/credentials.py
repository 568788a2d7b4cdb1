"""Credentials typed into workbook cells: found, masked everywhere at once, and refused at their cell.

A workbook is shared, mailed and committed; a password or key in a cell would travel with it and land in
logs, the audit and dlt's trace. Validation refuses such a row (exit 2) with the place the value belongs,
and registers the value for redaction first, so not even the refusal echoes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from dlt_ingest.redaction import register_secret

_SECRET_PARAMETER = re.compile(
    r"(?i)^(?:[a-z0-9]+[_-])*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|subscription[_-]?key|client[_-]?secret|auth|authorization|signature|sig|"
    r"sas|credentials?)$|^key$")
_CURSOR_PARAMETERS = {"page_token", "next_token", "pagetoken", "nexttoken", "continuation_token", "pagination_token",
                      "sync_token", "cursor_token", "next_page_token"}
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^\s/?#@:]*):([^\s/?#@]+)@")
_CONNECTION_PASSWORD = re.compile(r"(?i)(?:^|;)\s*(password|pwd|accountkey|sharedaccesssignature)\s*=\s*([^;]+)")
_MAX_DEPTH = 20


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter or JSON key names a credential (`api_key`, `access_token`, `x-api-key`, ...)."""
    lowered = name.strip().lower()
    return lowered not in _CURSOR_PARAMETERS and bool(_SECRET_PARAMETER.match(lowered))


def _json_pairs(value: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from _json_pairs(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _json_pairs(item, depth + 1)


def _in_json(text: str) -> Iterator[tuple[str, str]]:
    if not text.lstrip().startswith(("{", "[")):
        return
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return
    for key, item in _json_pairs(parsed):
        if is_secret_parameter(key) and item not in (None, "") and not isinstance(item, dict | list | bool):
            yield f"the parameter '{key}'", str(item)


def _in_query(text: str) -> Iterator[tuple[str, str]]:
    if "?" not in text and "=" not in text:
        return
    query = urlsplit(text).query if "?" in text else text
    for key, item in parse_qsl(query, keep_blank_values=False):
        if is_secret_parameter(key) and item:
            yield f"the query parameter '{key}'", item


def credentials_in(text: str) -> list[tuple[str, str]]:
    """(what it is, the secret value) for every credential in a cell's text."""
    found: list[tuple[str, str]] = []
    if "=" not in text and "@" not in text and not text.lstrip().startswith(("{", "[")):
        return found  # a plain name or path: no credential can hide in it
    for match in _URL_PASSWORD.finditer(text):
        found.append(("a password in a URL (user:password@)", unquote(match.group(2))))
    for match in _CONNECTION_PASSWORD.finditer(text):
        found.append((f"{match.group(1)}= of a connection string", match.group(2).strip()))
    found.extend(_in_json(text))
    if not found:
        found.extend(_in_query(text))
    return found


def refuse_credentials(text: str, source_name: str | None) -> str | None:
    """The problem message when `text` holds a credential (every value found is registered for redaction)."""
    found = credentials_in(text)
    if not found:
        return None
    for _, value in found:
        register_secret(value)
    section = f"[sources.{source_name}]" if source_name else "[sources.<source_name>]"
    what = ", ".join(dict.fromkeys(description for description, _ in found))
    return (f"holds a credential ({what}): remove it; credentials never belong in the workbook (anyone who can "
            f"open it can read them). Put it in .dlt/secrets.toml under {section} or in a vault (see "
            f"docs/secrets.md)")
