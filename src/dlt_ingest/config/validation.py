"""Cell parsing and row rules: every problem of the workbook, located and with the fix, in one pass."""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dlt_ingest.config.columns import COLUMNS_BY_NAME, SHEET_NAME
from dlt_ingest.config.json_cells import JsonCellError, load_json_object
from dlt_ingest.config.model import Job, LoadType, WatermarkValue, lake_name
from dlt_ingest.config.workbook import RawRow, RawSheet, read_sheet
from dlt_ingest.errors import CellProblem, WorkbookValidationError

MAX_NAME_LENGTH = 128
_TRUE = {"y", "yes", "true", "1"}
_FALSE = {"n", "no", "false", "0"}
_SOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class CellValueError(ValueError):
    """A cell's value is wrong; the message says what to type instead."""


@dataclass
class WorkbookConfig:
    """The validated workbook: enabled jobs plus warnings worth showing."""

    path: str
    jobs: list[Job]
    disabled: list[Job] = field(default_factory=list)
    warnings: list[CellProblem] = field(default_factory=list)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_name(value: Any) -> str:
    text = _text(value)
    if len(text) > MAX_NAME_LENGTH:
        raise CellValueError(f"is {len(text)} characters long: use at most {MAX_NAME_LENGTH}")
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
    text = _text(value).lower()
    if isinstance(value, bool):
        return value
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellValueError(f"'{_text(value)}' is not one of Y, N (yes/no, true/false and 1/0 also work)")


def parse_choice(column: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value)
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
    text = _text(value)
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


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise CellValueError("is TRUE/FALSE: type a whole number such as 50000")
    try:
        number = float(_text(value)) if not isinstance(value, int | float) else value
    except ValueError:
        raise CellValueError(f"'{_text(value)[:40]}' is not a whole number: type one such as 50000") from None
    if not float(number).is_integer() or number <= 0:
        raise CellValueError(f"'{_text(value)}' must be a positive whole number such as 50000")
    return int(number)


def parse_names(value: Any) -> tuple[str, ...]:
    parts = [p.strip() for p in _text(value).split(",")]
    if any(not p for p in parts):
        raise CellValueError("has an empty name: separate column names with single commas, e.g. id, line_no")
    return tuple(parse_name(p) for p in parts)


def parse_text(value: Any) -> str:
    return _text(value)


def parse_datetime(value: Any) -> Any:
    return value  # informational (filled by write-back); never rejected


def parse_json_object(value: Any) -> dict[str, Any]:
    """A JSON object typed into a cell, e.g. `{"per_page": 100}`."""
    try:
        return load_json_object(_text(value), 'write an object such as {"per_page": 100} with double quotes')
    except JsonCellError as exc:
        if exc.not_object:
            raise CellValueError(f"is JSON but not an object: {exc}; write an object such as "
                                 f'{{"per_page": 100}}') from None
        raise CellValueError(str(exc)) from None


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def parse_api_path(value: Any) -> str:
    """A path below the source's base_url, never a way to another host or out of the base path."""
    text = _text(value)
    decoded = urllib.parse.unquote(urllib.parse.unquote(text))
    if _SCHEME.match(decoded) or decoded.startswith(("//", "\\")) or "@" in decoded.split("?", 1)[0]:
        raise CellValueError(f"'{text[:60]}' points to another host: type only the path below the source's "
                             f"base_url, e.g. coins/markets")
    if any(segment == ".." for segment in re.split(r"[/\\]", decoded.split("?", 1)[0])):
        raise CellValueError(f"'{text[:60]}' climbs out of the base_url with '..': type the path below it")
    if any(unicodedata.category(c).startswith("C") for c in decoded) or "#" in decoded or "\\" in decoded:
        raise CellValueError(f"'{text[:60]}' contains control characters, '#' or '\\': remove them")
    return text


def _parser_for(column: str) -> Callable[[Any], Any]:
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
    }.get(spec.kind, parse_text)


class _RowChecker:
    """Collects the problems of one row (located) while building its Job."""

    def __init__(self, sheet: RawSheet, row: RawRow) -> None:
        self.sheet = sheet
        self.row = row
        self.problems: list[CellProblem] = []

    def problem(self, column: str, message: str) -> None:
        letter = self.sheet.column_letters.get(column, "")
        self.problems.append(CellProblem(self.sheet.sheet, self.row.number, column, letter, message))

    def values(self) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for column, cell in self.row.cells.items():
            if cell.is_formula:
                self.problem(column, f"'{_text(cell.value)[:40]}' is a formula: type the value itself")
                continue
            try:
                parsed[column] = _parser_for(column)(cell.value)
            except CellValueError as exc:
                self.problem(column, str(exc))
        return parsed


def _build_job(checker: _RowChecker, known_types: list[str]) -> Job | None:
    values = checker.values()
    failed = {p.column for p in checker.problems}
    for column in ("source_type", "source_name", "table_name", "load_type", "enabled"):
        if column not in values and column not in failed:
            checker.problem(column, f"is empty: fill in {column} (see docs/configuration.md)")
    source_type = values.get("source_type")
    if source_type is not None and source_type.lower() not in known_types:
        checker.problem("source_type", f"'{source_type}' is not a known type: use one of {', '.join(known_types)}")
    elif source_type is not None:
        values["source_type"] = source_type.lower()
    load_type = values.get("load_type")
    if load_type == "INCREMENTAL" and "watermark_column" not in values and "watermark_column" not in failed:
        checker.problem("watermark_column", "is empty but load_type is INCREMENTAL: name the column that grows "
                        "with every change (e.g. updated_at), or set load_type to FULL")
    if checker.problems:
        return None
    extra = {k: v for k, v in values.items() if k not in Job.__dataclass_fields__}
    fields = {k: v for k, v in values.items() if k in Job.__dataclass_fields__}
    fields["load_type"] = LoadType(values["load_type"])
    return Job(row=checker.row.number, extra=extra, **fields)


def _job_rules(checker: _RowChecker, job: Job) -> None:
    from dlt_ingest.sources import REGISTRY

    for column, message in REGISTRY.get(job.source_type).check_job(job):
        checker.problem(column, message)
    if job.current_table and not job.primary_key:
        checker.problem("current_table", "is Y but primary_key is empty: name the key column(s) the current-state "
                                         "table is upserted on, or set current_table to N")


def validate_sheet(raw: RawSheet) -> WorkbookConfig:
    from dlt_ingest.sources import REGISTRY

    known = REGISTRY.known_types()
    problems = list(raw.header_problems)
    warnings = list(raw.header_warnings)
    enabled: list[Job] = []
    disabled: list[Job] = []
    if problems:  # without the right header, every row would repeat the same complaint
        raise WorkbookValidationError(raw.path, problems)
    for row in raw.rows:
        checker = _RowChecker(raw, row)
        job = _build_job(checker, known)
        if job is not None:
            _job_rules(checker, job)
            if job.load_type is LoadType.FULL and job.watermark_column:
                warnings.append(CellProblem(raw.sheet, row.number, "watermark_column",
                                            raw.column_letters.get("watermark_column", ""),
                                            "is ignored because load_type is FULL"))
        is_enabled = job.enabled if job is not None else _looks_enabled(row)
        if checker.problems:
            (problems if is_enabled else warnings).extend(
                CellProblem(p.sheet, p.row, p.column, p.column_letter, p.message + " (row is disabled)")
                if not is_enabled else p
                for p in checker.problems
            )
        elif job is not None:
            (enabled if job.enabled else disabled).append(job)
    problems.extend(_uniqueness_problems(raw, enabled))
    if problems:
        raise WorkbookValidationError(raw.path, problems)
    return WorkbookConfig(raw.path, enabled, disabled, warnings)


def _looks_enabled(row: RawRow) -> bool:
    cell = row.cells.get("enabled")
    if cell is None:
        return True  # a row with no `enabled` is reported as an error, not hidden as a warning
    try:
        return parse_bool(cell.value)
    except CellValueError:
        return True


def _uniqueness_problems(raw: RawSheet, jobs: list[Job]) -> list[CellProblem]:
    problems: list[CellProblem] = []
    seen: dict[str, dict[Any, Job]] = {"job name": {}, "lake folder": {}, "pipeline name": {}}
    letter = raw.column_letters.get("table_name", "")
    for job in jobs:
        keys = {
            "job name": job.name.lower(),
            "lake folder": (job.dataset_name, lake_name(job.table_name)),
            "pipeline name": job.pipeline_name,
        }
        for kind, key in keys.items():
            other = seen[kind].get(key)
            if other is not None:
                problems.append(CellProblem(
                    raw.sheet, job.row, "table_name", letter,
                    f"job '{job.name}' has the same {kind} as row {other.row} ('{other.name}'): "
                    f"disable or remove one of the two rows",
                ))
                break
            seen[kind][key] = job
    return problems


def load_workbook(path: str | Path, sheet: str = SHEET_NAME) -> WorkbookConfig:
    """Read and validate the workbook; raises `WorkbookError` or `WorkbookValidationError`."""
    return validate_sheet(read_sheet(path, sheet))
