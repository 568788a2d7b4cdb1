"""Parsing one workbook cell: each parser returns the typed value or raises `CellValueError` saying what
to type instead. `ingest validate-config` and the run share them, so a cell that validates is what runs."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from dlt_ingest.workbook.columns import COLUMNS_BY_NAME
from dlt_ingest.workbook.model import WatermarkValue

MAX_NAME_LENGTH = 128
MAX_JSON_DEPTH = 10  # a cell's JSON object and what it holds; deeper is an error at the cell, never a RecursionError
MAX_JSON_CHARS = 32_767  # what one Excel cell holds
_TRUE = {"y", "yes", "true", "1"}
_FALSE = {"n", "no", "false", "0"}
_SOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class JsonCellError(ValueError):
    """The cell is not valid JSON, or not an object; `not_object` tells which."""

    def __init__(self, message: str, not_object: bool = False) -> None:
        super().__init__(message)
        self.not_object = not_object


def json_depth(text: str) -> int:
    """How deeply `text`'s brackets nest (outside strings), counted without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def load_json_object(text: str, fix: str) -> dict[str, Any]:
    """Parse `text` as a JSON object; the error shows where it broke, then `fix`."""
    if len(text) > MAX_JSON_CHARS:
        raise JsonCellError(f"is {len(text):,} characters of JSON, more than {MAX_JSON_CHARS:,}: shorten it")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise JsonCellError(f"nests {depth} levels deep, more than {MAX_JSON_DEPTH}: write a flat object; {fix}")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonCellError(
            f"not valid JSON ({exc.msg} at character {exc.pos + 1}): {text[:60]}; {fix}"
        ) from None
    if not isinstance(parsed, dict):
        raise JsonCellError(text[:60], not_object=True)
    return parsed


class CellValueError(ValueError):
    """A cell's value is wrong; the message says what to type instead."""


def text_of(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_ .,$@-]*$")  # nothing below can object to these characters


def parse_name(value: Any) -> str:
    text = text_of(value)
    if len(text) > MAX_NAME_LENGTH:
        raise CellValueError(f"is {len(text)} characters long: use at most {MAX_NAME_LENGTH}")
    if _PLAIN_NAME.match(text) and ".." not in text:
        return text
    bad = [c for c in text if c in "\"'`;\\" or unicodedata.category(c).startswith("C")]
    if bad:
        shown = ", ".join(sorted({repr(c) for c in bad}))
        raise CellValueError(f"'{text[:40]}' contains {shown}: remove quotes, semicolons and control characters")
    if ".." in text or "/" in text or "%2f" in text.lower():
        raise CellValueError(f"'{text[:40]}' contains a path separator ('/', '..' or '%2F'): remove it")
    if unicodedata.normalize("NFKC", text) != text:
        raise CellValueError(f"'{text[:40]}' contains look-alike Unicode characters: type plain characters")
    return text


def parse_source_name(value: Any) -> str:
    text = parse_name(value)
    if not _SOURCE_NAME.match(text):
        raise CellValueError(
            f"'{text}' is not a valid source_name: use letters, digits and '_', starting with a letter "
            f"(it names the [sources.<source_name>] secrets section)"
        )
    return text


def parse_bool(value: Any) -> bool:
    text = text_of(value).lower()
    if isinstance(value, bool):
        return value
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellValueError(f"'{text_of(value)}' is not one of Y, N (yes/no, true/false and 1/0 also work)")


def parse_choice(column: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = text_of(value)
        for choice in choices:
            if text.upper() == choice.upper():
                return choice
        raise CellValueError(f"'{text}' is not one of {', '.join(choices)}")

    return parse


def parse_watermark(value: Any) -> WatermarkValue:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, bool):
        raise CellValueError("is TRUE/FALSE: type a date, a datetime or a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellValueError(f"'{value}' is a fraction: type a date, an ISO datetime or a whole number")
    text = text_of(value)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CellValueError(
            f"'{text[:40]}' is not a date: use an Excel date cell or ISO-8601 such as 2026-01-15 or "
            f"2026-01-15T08:30:00"
        ) from None


def parse_literal_watermark(value: str) -> WatermarkValue:
    """A quote-prefixed `last_watermark` (how write-back stores a text cursor; also what an analyst types after
    a '): a date, datetime or whole number when it reads as one, else the cursor's text exactly as it is."""
    try:
        return parse_watermark(value)
    except CellValueError:
        return value


MAX_BATCH_ROWS = 1_000_000  # chunk_size, the one whole-number column: rows a read holds in memory at once


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise CellValueError("is TRUE/FALSE: type a whole number such as 50000")
    try:
        number = float(text_of(value)) if not isinstance(value, int | float) else value
    except ValueError:
        raise CellValueError(f"'{text_of(value)[:40]}' is not a whole number: type one such as 50000") from None
    if not float(number).is_integer() or number <= 0:
        raise CellValueError(f"'{text_of(value)}' must be a positive whole number such as 50000")
    if number > MAX_BATCH_ROWS:
        raise CellValueError(f"'{text_of(value)[:40]}' is more than {MAX_BATCH_ROWS:,}: a batch of rows is held in "
                             f"memory; type at most {MAX_BATCH_ROWS} (50000 is the default)")
    return int(number)


def parse_names(value: Any) -> tuple[str, ...]:
    parts = [p.strip() for p in text_of(value).split(",")]
    if any(not p for p in parts):
        raise CellValueError("has an empty name: separate column names with single commas, e.g. id, line_no")
    return tuple(parse_name(p) for p in parts)


def parse_column_types(value: Any) -> dict[str, str]:
    """`amount: decimal(38,18); payload: text` -> {"amount": "decimal(38,18)", "payload": "text"}."""
    types: dict[str, str] = {}
    for part in (p.strip() for p in text_of(value).split(";")):
        if not part:
            continue
        name, sep, kind = part.partition(":")
        if not sep or not name.strip() or not kind.strip():
            raise CellValueError(f"'{part[:40]}' is not `column: type`: write pairs such as "
                                 f"amount: decimal(38,18); payload: text")
        column = parse_name(name.strip())
        if column in types:
            raise CellValueError(f"names column {column} twice: keep one `{column}: type`")
        types[column] = kind.strip().lower()
    if not types:
        raise CellValueError("is empty: write pairs such as amount: decimal(38,18); payload: text")
    return types


def parse_text(value: Any) -> str:
    return text_of(value)


def parse_datetime(value: Any) -> Any:
    return value  # informational (filled by write-back); never rejected


def parse_json_object(value: Any) -> dict[str, Any]:
    """A JSON object typed into a cell, e.g. `{"per_page": 100}`."""
    try:
        return load_json_object(text_of(value), 'write an object such as {"per_page": 100} with double quotes')
    except JsonCellError as exc:
        if exc.not_object:
            raise CellValueError(f"is JSON but not an object: {exc}; write an object such as "
                                 f'{{"per_page": 100}}') from None
        raise CellValueError(str(exc)) from None


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def parse_api_path(value: Any) -> str:
    """A path below the source's base_url, never a way to another host or out of the base path."""
    text = text_of(value)
    decoded = urllib.parse.unquote(urllib.parse.unquote(text))
    if _SCHEME.match(decoded) or decoded.startswith(("//", "\\")) or "@" in decoded.split("?", 1)[0]:
        raise CellValueError(f"'{text[:60]}' points to another host: type only the path below the source's "
                             f"base_url, e.g. coins/markets")
    if any(segment == ".." for segment in re.split(r"[/\\]", decoded.split("?", 1)[0])):
        raise CellValueError(f"'{text[:60]}' climbs out of the base_url with '..': type the path below it")
    if any(unicodedata.category(c).startswith("C") for c in decoded) or "#" in decoded or "\\" in decoded:
        raise CellValueError(f"'{text[:60]}' contains control characters, '#' or '\\': remove them")
    return text


@functools.cache
def parser_for(column: str) -> Callable[[Any], Any]:
    spec = COLUMNS_BY_NAME[column]
    if column == "source_name":
        return parse_source_name
    if column == "api_endpoint":
        return parse_api_path
    if column == "source_type":
        return parse_text
    if spec.kind == "choice":
        return parse_choice(column, spec.choices)
    return {
        "name": parse_name,
        "bool": parse_bool,
        "watermark": parse_watermark,
        "int": parse_int,
        "names": parse_names,
        "datetime": parse_datetime,
        "json": parse_json_object,
        "types": parse_column_types,
    }.get(spec.kind, parse_text)


_ACCEPTED: dict[str, frozenset[str]] = {
    "bool": frozenset({"text", "bool", "number"}),
    "int": frozenset({"text", "number"}),
    "watermark": frozenset({"text", "number", "date"}),
}
_EXPECTED = {
    "name": "text: format the cell as Text and type the name",
    "names": "text: format the cell as Text and type the column name(s)",
    "json": "a JSON object typed as text, e.g. {\"per_page\": 100}",
    "choice": "one of the listed words",
    "bool": "Y or N",
    "int": "a whole number such as 50000",
    "watermark": "a date, an ISO-8601 text such as 2026-01-15T08:30:00 or a whole number",
    "text": "text: format the cell as Text and type it",
}


def _shown_kind(kind: str, value: Any) -> str:
    if kind == "bool":
        return "TRUE/FALSE"
    if kind == "date":
        return f"a date ({value.isoformat(sep=' ') if isinstance(value, datetime) else value})"
    if kind == "time":
        return f"a time of day ({value})"
    if kind == "number":
        return f"a number ({text_of(value)})"
    return kind


def kind_problem(column: str, kind: str, value: Any) -> str | None:
    """What is wrong with a cell of this Excel type in this column (a date in table_name, #REF! anywhere)."""
    spec = COLUMNS_BY_NAME[column]
    if spec.auto:
        return None  # filled in by write-back, never rejected
    if kind == "error":
        return f"shows the error {value}: the cell holds a broken formula or value; type the value itself"
    if kind == "damaged":
        return f"{value}: the file is damaged at this cell; retype the cell in Excel and save the workbook"
    if kind in ("text", "formula") or kind in _ACCEPTED.get(spec.kind, frozenset({"text"})):
        return None
    return f"is {_shown_kind(kind, value)}, but {column} needs {_EXPECTED.get(spec.kind, _EXPECTED['text'])}"
