"""Row rules: every problem of the workbook, located and with the fix, in one pass.

What each source type allows is not known here: `validate_sheet` takes the `SourceRules` of the
registry (known types and a per-row check), so reading a workbook imports no source module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dlt_ingest.errors import CellProblem, WorkbookValidationError
from dlt_ingest.workbook.cells import (
    CellValueError,
    kind_problem,
    parse_bool,
    parse_literal_watermark,
    parser_for,
    text_of,
)
from dlt_ingest.workbook.columns import SHEET_NAME
from dlt_ingest.workbook.credentials import refuse_credentials
from dlt_ingest.workbook.model import CURRENT_SUFFIX, Job, LoadType, lake_name
from dlt_ingest.workbook.reader import RawRow, RawSheet, read_sheet


class SourceRules(Protocol):
    """What the source registry tells validation: the known types and each type's extra rules."""

    def known_types(self) -> list[str]: ...

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        """(column, message with the fix) for every problem of a row of this job's type."""
        ...


@dataclass
class WorkbookConfig:
    """The validated workbook: enabled jobs plus warnings worth showing."""

    path: str
    jobs: list[Job]
    disabled: list[Job] = field(default_factory=list)
    warnings: list[CellProblem] = field(default_factory=list)
    column_letters: dict[str, str] = field(default_factory=dict)  # where a later check locates a cell
    sheet: str = SHEET_NAME

    def problem(self, job: Job, column: str, message: str) -> CellProblem:
        """A problem with `job`'s cell in `column`, located as Excel shows it."""
        return CellProblem(self.sheet, job.row, column, self.column_letters.get(column, ""), message)


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
        source = self.row.cells.get("source_name")
        source_name = text_of(source.value) if source is not None and source.kind == "text" else None
        for column, cell in self.row.cells.items():
            if cell.is_formula:
                self.problem(column, f"'{text_of(cell.value)[:40]}' is a formula: type the value itself")
                continue
            wrong_kind = kind_problem(column, cell.kind, cell.value)
            if wrong_kind:
                self.problem(column, wrong_kind)
                continue
            if column == "last_watermark" and cell.quoted:  # a cursor written back from the source's data
                parsed[column] = parse_literal_watermark(cell.value)
                continue
            credential = refuse_credentials(cell.value, source_name) if isinstance(cell.value, str) else None
            if credential:
                self.problem(column, credential)
                continue
            try:
                parsed[column] = parser_for(column)(cell.value)
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


RESERVED_SOURCE_NAMES = {"adls": "vault names adls-<key> hold the lake's own credentials (see docs/secrets.md)"}
RESERVED_TABLE_PREFIX = "_dlt"
RESERVED_TABLES = {"init": "dlt keeps a marker file named init in each source's lake folder"}


def reserved_name_problems(job: Job) -> list[tuple[str, str]]:
    """Names that would collide with what dlt or dlt-ingest keep in the lake and the secret stores."""
    problems: list[tuple[str, str]] = []
    reason = RESERVED_SOURCE_NAMES.get(job.source_name.lower())
    if reason:
        problems.append(("source_name", f"'{job.source_name}' is reserved: {reason}; choose another source_name"))
    folder = job.lake_table
    if folder.startswith(RESERVED_TABLE_PREFIX):
        problems.append(("table_name", f"'{job.table_name}' is reserved: its lake folder '{folder}' starts with "
                                       f"{RESERVED_TABLE_PREFIX}, where dlt keeps its own tables (_dlt_loads, "
                                       f"_dlt_pipeline_state, _dlt_version); a database table of that name cannot "
                                       f"be loaded"))
    elif folder in RESERVED_TABLES:
        problems.append(("table_name", f"'{job.table_name}' is reserved: {RESERVED_TABLES[folder]}"))
    elif not any(c.isascii() and c.isalnum() for c in job.table_name):
        problems.append(("table_name", f"'{job.table_name[:40]}' has no ASCII letter or digit: its lake folder would "
                                       f"be named '{folder}'; use a name with letters"))
    return problems


def _job_rules(checker: _RowChecker, job: Job, rules: SourceRules) -> None:
    for column, message in reserved_name_problems(job):
        checker.problem(column, message)
    for column, message in rules.check_job(job):
        checker.problem(column, message)
    if job.current_table and not job.primary_key:
        checker.problem("current_table", "is Y but primary_key is empty: name the key column(s) the current-state "
                                         "table is upserted on, or set current_table to N")
    if job.detect_deletes and not job.primary_key:
        checker.problem("detect_deletes", "is Y but primary_key is empty: name the key column(s) the source's and "
                                          "the lake's rows are compared by, or set detect_deletes to N")
    if job.detect_deletes and not job.is_incremental:
        checker.problem("detect_deletes", "is Y but load_type is FULL: a FULL snapshot already leaves deleted rows "
                                          "out; set load_type to INCREMENTAL or detect_deletes to N")


def validate_sheet(raw: RawSheet, rules: SourceRules) -> WorkbookConfig:
    known = rules.known_types()
    problems = list(raw.header_problems)
    warnings = list(raw.header_warnings)
    enabled: list[Job] = []
    disabled: list[Job] = []
    if problems:  # without the right header, every row would repeat the same complaint
        raise WorkbookValidationError(raw.path, problems + raw.cell_problems)
    problems.extend(raw.cell_problems)
    for row in raw.rows:
        checker = _RowChecker(raw, row)
        job = _build_job(checker, known)
        if job is not None:
            _job_rules(checker, job, rules)
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
    return WorkbookConfig(raw.path, enabled, disabled, warnings, dict(raw.column_letters), raw.sheet)


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
    current = {(j.dataset_name, j.lake_table + CURRENT_SUFFIX): j for j in jobs if j.primary_key}
    for job in jobs:
        owner = current.get((job.dataset_name, job.lake_table))
        if owner is not None and owner is not job:
            problems.append(CellProblem(
                raw.sheet, job.row, "table_name", letter,
                f"job '{job.name}' would write to the folder of row {owner.row}'s current-state table "
                f"('{owner.lake_table}{CURRENT_SUFFIX}'): rename the table or remove one of the two rows"))
            continue
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


def load_workbook(path: str | Path, rules: SourceRules, sheet: str = SHEET_NAME) -> WorkbookConfig:
    """Read and validate the workbook; raises `WorkbookError` or `WorkbookValidationError`."""
    return validate_sheet(read_sheet(path, sheet), rules)
