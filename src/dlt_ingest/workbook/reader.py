"""Opening the workbook and turning the `SourceConfig` sheet into raw, located rows.

Everything that can go wrong before a cell is interpreted (missing file, wrong format, encrypted file,
missing sheet, empty sheet, bad header) becomes one `WorkbookError` line with the fix.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook as _openpyxl_load
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from dlt_ingest.errors import CellProblem, WorkbookError
from dlt_ingest.workbook.columns import COLUMNS_BY_NAME, REQUIRED_COLUMNS, SHEET_NAME

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # .xls files and encrypted .xlsx files


@dataclass(frozen=True)
class RawCell:
    value: Any
    is_formula: bool = False


@dataclass
class RawRow:
    """One non-blank data row: its Excel row number and cells keyed by model column name."""

    number: int
    cells: dict[str, RawCell]


@dataclass
class RawSheet:
    path: str
    sheet: str
    column_letters: dict[str, str]
    rows: list[RawRow]
    header_problems: list[CellProblem] = field(default_factory=list)
    header_warnings: list[CellProblem] = field(default_factory=list)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise WorkbookError(
            f"Workbook not found: {path} (looked in {path.expanduser().resolve().parent}). Pass --config PATH or "
            f"--project-dir DIR, or create one with `ingest init-config {path}` (a new project: `ingest init DIR`)."
        )
    if path.is_dir():
        raise WorkbookError(f"{path} is a folder, not a workbook: pass the .xlsx file with --config PATH.")
    suffix = path.suffix.lower()
    if suffix in {".xls", ".csv", ".ods", ".xlsb"}:
        raise WorkbookError(
            f"{path} is a {suffix} file; dlt-ingest reads .xlsx only: open it in Excel and "
            f"save it as 'Excel Workbook (.xlsx)'."
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if head == _OLE_MAGIC:
        raise WorkbookError(
            f"{path} is password-protected or an old .xls file: remove the password in Excel "
            f"(File > Info > Protect Workbook) and save it as 'Excel Workbook (.xlsx)'."
        )
    if not zipfile.is_zipfile(path):
        raise WorkbookError(
            f"{path} is not a valid .xlsx file (it may be corrupt or another format): "
            f"open it in Excel and save it again as 'Excel Workbook (.xlsx)'."
        )


def _normalise_header(value: Any) -> str:
    return str(value).strip().lower().replace(" ", "_") if value is not None else ""


def read_sheet(path: str | Path, sheet: str = SHEET_NAME) -> RawSheet:
    """Read the sheet's header and non-blank rows; raises `WorkbookError` for unreadable files."""
    path = Path(path)
    _check_file(path)
    try:
        book = _openpyxl_load(path, data_only=False, read_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise WorkbookError(
            f"{path} could not be read as an .xlsx workbook ({type(exc).__name__}): "
            f"open it in Excel and save it again as 'Excel Workbook (.xlsx)'."
        ) from exc
    try:
        if sheet not in book.sheetnames:
            found = ", ".join(book.sheetnames) or "none"
            raise WorkbookError(
                f"{path} has no sheet named '{sheet}' (sheets found: {found}): rename the sheet that "
                f"lists the jobs to '{sheet}'."
            )
        grid = [list(r) for r in book[sheet].iter_rows(values_only=False)]
    finally:
        book.close()
    return _rows_from_grid(str(path), sheet, grid)


def _rows_from_grid(path: str, sheet: str, grid: list[list[Any]]) -> RawSheet:
    header_index = next(
        (i for i, row in enumerate(grid) if any(c.value not in (None, "") for c in row)), None
    )
    if header_index is None:
        raise WorkbookError(
            f"{path}: sheet '{sheet}' is empty: add a header row with the columns "
            f"{', '.join(REQUIRED_COLUMNS)} and one row per job (see docs/configuration.md)."
        )
    header_row_number = header_index + 1
    columns: dict[int, str] = {}
    letters: dict[str, str] = {}
    problems: list[CellProblem] = []
    warnings: list[CellProblem] = []
    for position, cell in enumerate(grid[header_index]):
        name = _normalise_header(cell.value)
        letter = get_column_letter(position + 1)
        if not name:
            continue
        if name not in COLUMNS_BY_NAME:
            warnings.append(
                CellProblem(sheet, header_row_number, name, letter,
                            "unknown column, ignored (see docs/configuration.md for the known columns)")
            )
            continue
        if name in letters:
            problems.append(
                CellProblem(sheet, header_row_number, name, letter,
                            f"duplicate column (also in column {letters[name]}): delete one of them")
            )
            continue
        columns[position] = name
        letters[name] = letter
    for required in REQUIRED_COLUMNS:
        if required not in letters:
            problems.append(
                CellProblem(sheet, header_row_number, required, "",
                            f"required column is missing: add a column headed '{required}'")
            )
    rows: list[RawRow] = []
    for offset, row in enumerate(grid[header_index + 1 :]):
        cells: dict[str, RawCell] = {}
        for position, name in columns.items():
            if position >= len(row):
                continue
            cell = row[position]
            value = cell.value
            if isinstance(value, str) and not value.strip():
                value = None
            if value is None:
                continue
            cells[name] = RawCell(value, is_formula=getattr(cell, "data_type", None) == "f")
        if cells:
            rows.append(RawRow(header_row_number + 1 + offset, cells))
    return RawSheet(path, sheet, letters, rows, problems, warnings)
