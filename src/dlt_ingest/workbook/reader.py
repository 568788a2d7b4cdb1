"""Opening the workbook and turning the `SourceConfig` sheet into raw, located, typed rows.

Everything that can go wrong before a cell is interpreted (missing file, wrong format, encrypted file,
a damaged part, missing sheet, a chart sheet, empty sheet, bad header) becomes one `WorkbookError` line
naming the file and the fix. The sheet is streamed (`xlsx.py`): only the header's known columns are kept,
a value where no column is headed is a problem at its cell, and at most `MAX_JOB_ROWS` rows are read.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from openpyxl.utils import get_column_letter

from dlt_ingest.errors import CellProblem, WorkbookError, WorkbookValidationError
from dlt_ingest.workbook.columns import COLUMNS_BY_NAME, REQUIRED_COLUMNS, SHEET_NAME
from dlt_ingest.workbook.xlsx import (
    NotAWorksheet,
    PackageDamaged,
    SheetCell,
    SheetNotFound,
    Workbook,
    open_workbook,
    read_shared_strings,
    worksheet_part,
)
from dlt_ingest.workbook.xlsx_sheet import IGNORE, KEEP, STRAY, stream_sheet

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # .xls files and encrypted .xlsx files
MAX_JOB_ROWS = 10_000  # rows below the header with a value in a known column: a few seconds to validate
MAX_HEADER_SEARCH = 1_000  # rows holding only empty text before the header
MAX_STRAY_PROBLEMS = 20
NO_HEADER = "(no header)"
_RESAVE = "open it in Excel and save it again as 'Excel Workbook (.xlsx)' (or restore it from version control)"


class RawCell(NamedTuple):
    """A cell's value and how Excel stored it: text, number, bool, date, time, error, formula or damaged."""

    value: Any
    kind: str = "text"
    quoted: bool = False  # text with Excel's quote prefix: meant literally (write-back writes cursors so)

    @property
    def is_formula(self) -> bool:
        return self.kind == "formula"


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
    cell_problems: list[CellProblem] = field(default_factory=list)  # values outside the table, too many rows


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
        with zipfile.ZipFile(path) as archive:
            workbook = open_workbook(archive)
            part = worksheet_part(workbook, sheet)
            sink = stream_sheet(workbook, part, lambda: _SheetBuilder(str(path), sheet, workbook))
            assert isinstance(sink, _SheetBuilder)
            return sink.finish()
    except PackageDamaged as exc:
        raise WorkbookError(f"{path} is damaged or not an Excel workbook: its part {exc.part} {exc.detail}; "
                            f"{_RESAVE}.") from None
    except SheetNotFound as exc:
        found = ", ".join(exc.names) or "none"
        raise WorkbookError(f"{path} has no sheet named '{sheet}' (sheets found: {found}): rename the sheet that "
                            f"lists the jobs to '{sheet}'.") from None
    except NotAWorksheet as exc:
        raise WorkbookError(f"{path}: sheet '{sheet}' is a {exc}, not a worksheet of cells (a chart sheet?): rename "
                            f"it and name the worksheet that lists the jobs '{sheet}'.") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise WorkbookError(f"{path} could not be read as an .xlsx workbook ({type(exc).__name__}): "
                            f"{_RESAVE}.") from None


class _SheetBuilder:
    """Collects the header and the rows while the sheet streams by; resolves shared strings at the end."""

    def __init__(self, path: str, sheet: str, workbook: Workbook) -> None:
        self.path = path
        self.sheet = sheet
        self.workbook = workbook
        self.columns: dict[int, str] | None = None  # column number -> known column name, once the header is read
        self.headed: set[int] = set()  # every column with a header, known or not
        self.header_row = 0
        self.letters: dict[str, str] = {}
        self.problems: list[CellProblem] = []
        self.warnings: list[CellProblem] = []
        self.cell_problems: list[CellProblem] = []
        self.strays = 0
        self.searched = 0
        self.too_many: CellProblem | None = None
        self.rows: list[tuple[int, list[SheetCell]]] = []

    def wants(self, column: int) -> int:
        if self.columns is None:
            return KEEP
        if column in self.columns:
            return KEEP
        return IGNORE if column in self.headed else STRAY

    def ignored(self) -> frozenset[int]:
        return frozenset(self.headed - set(self.columns)) if self.columns is not None else frozenset()

    def on_stray(self, row: int, column: int) -> None:
        self.strays += 1
        if self.strays <= MAX_STRAY_PROBLEMS:
            self.cell_problems.append(CellProblem(
                self.sheet, row, NO_HEADER, get_column_letter(column),
                "has a value but its column has no header: delete it, or head the column with a known name "
                "(see docs/configuration.md)"))

    def on_row(self, number: int, cells: list[SheetCell]) -> bool:
        if self.columns is None:
            return self._header(number, cells)
        if len(self.rows) >= MAX_JOB_ROWS:
            self.too_many = CellProblem(
                self.sheet, number, "(row)", "", f"the sheet has more than {MAX_JOB_ROWS:,} job rows: split the jobs "
                "into several workbooks (one per team or schedule) and run each with --config")
            return False
        self.rows.append((number, cells))
        return True

    def _header(self, number: int, cells: list[SheetCell]) -> bool:
        self.searched += 1
        strings = read_shared_strings(self.workbook, {c.value for c in cells if c.kind == "shared"})
        values = {c.column: strings.get(c.value, "") if c.kind == "shared" else c.value for c in cells}
        if all(v is None or (isinstance(v, str) and not v) for v in values.values()):
            if self.searched >= MAX_HEADER_SEARCH:
                raise WorkbookError(f"{self.path}: sheet '{self.sheet}' has no header in its first "
                                    f"{MAX_HEADER_SEARCH:,} rows: put the column names in the first row.")
            return True
        self.header_row = number
        self.columns = {}
        for column, value in sorted(values.items()):
            name = _normalise_header(value)
            if not name:
                continue
            self.headed.add(column)
            letter = get_column_letter(column)
            if name not in COLUMNS_BY_NAME:
                self.warnings.append(CellProblem(
                    self.sheet, number, name, letter,
                    "unknown column, ignored (see docs/configuration.md for the known columns)"))
            elif name in self.letters:
                self.problems.append(CellProblem(
                    self.sheet, number, name, letter,
                    f"duplicate column (also in column {self.letters[name]}): delete one of them"))
            else:
                self.columns[column] = name
                self.letters[name] = letter
        for required in REQUIRED_COLUMNS:
            if required not in self.letters:
                self.problems.append(CellProblem(
                    self.sheet, number, required, "", f"required column is missing: add a column headed '{required}'"))
        return True

    def finish(self) -> RawSheet:
        if self.columns is None:
            raise WorkbookError(
                f"{self.path}: sheet '{self.sheet}' is empty: add a header row with the columns "
                f"{', '.join(REQUIRED_COLUMNS)} and one row per job (see docs/configuration.md)."
            )
        if self.too_many is not None:  # not one row is validated: the file must be split first
            raise WorkbookValidationError(self.path, [*self.problems, *self.cell_problems, self.too_many])
        wanted = {c.value for _, cells in self.rows for c in cells if c.kind == "shared"}
        strings = read_shared_strings(self.workbook, wanted)
        rows: list[RawRow] = []
        for number, cells in self.rows:
            raw: dict[str, RawCell] = {}
            for cell in cells:
                name = self.columns.get(cell.column)
                value = _raw_cell(cell, strings, self.workbook.quoted_styles)
                if name is None or value is None or name in raw:
                    continue
                raw[name] = value
            if raw:
                rows.append(RawRow(number, raw))
        return RawSheet(self.path, self.sheet, self.letters, rows, self.problems, self.warnings, self.cell_problems)


def _raw_cell(cell: SheetCell, strings: dict[int, str], quoted: set[int]) -> RawCell | None:
    """The cell as validation sees it; None for empty text."""
    kind, value = cell.kind, cell.value
    if kind == "shared":
        if value not in strings:
            return RawCell(f"refers to the shared string {value}, which the file does not have", "damaged")
        kind, value = "text", strings[value]
    if kind == "text":
        if not value.strip():
            return None
        return RawCell(value, kind, cell.style in quoted)
    return RawCell(value, kind)
