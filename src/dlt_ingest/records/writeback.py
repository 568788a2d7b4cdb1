"""`ingest run --write-back`: the run's outcome written into the workbook, and nothing else touched.

Per job row: `last_run_date`, `last_run_status` and (INCREMENTAL jobs that loaded) `last_watermark`.
A value taken from the source is written as text Excel never evaluates (a cursor `=HYPERLINK(...)` stays
those characters), and validation reads it back exactly.
Every other cell, style, comment, drop-down and the frozen header stay as they were (openpyxl keeps
them when it loads and saves). The new file is written next to the old one and renamed over it, so a
crash never leaves half a workbook. A workbook that is open in Excel or read-only is reported, never
fatal: the run's data and state are already safe in the lake.

`last_watermark` written back is the cursor the lake's state holds now. The lake's state still wins; the
cell only matters for a fresh environment (an empty lake), which then starts there (`>=`, so rows at
exactly that value are loaded once more).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from dlt_ingest.results import JobResult, JobStatus
from dlt_ingest.workbook.columns import SHEET_NAME
from dlt_ingest.workbook.model import Job

WRITTEN_COLUMNS = ("last_run_date", "last_run_status", "last_watermark")
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"


@dataclass(frozen=True)
class WriteBackOutcome:
    ok: bool
    message: str


def _header(value: Any) -> str:
    return str(value).strip().lower().replace(" ", "_") if value is not None else ""


EXACT_INTEGERS = 2**53  # larger whole numbers lose digits as Excel numbers: they are written as text
MAX_CELL_TEXT = 32_767  # what one Excel cell holds


def watermark_cell(value: Any) -> tuple[Any, bool]:
    """The cursor as the workbook column accepts it, and whether it is literal text: numbers stay numbers, dates
    become ISO-8601 text (exact, zone kept: an Excel date cell has neither microseconds nor a zone), a text
    cursor (a string column's value) is literal and is read back exactly as it is."""
    if isinstance(value, bool):
        return str(value), True
    if isinstance(value, int):
        return (value, False) if -EXACT_INTEGERS < value < EXACT_INTEGERS else (str(value), False)
    if isinstance(value, datetime | date):
        return value.isoformat(), False
    return str(value), True


def write_value(cell: Any, value: Any, literal: bool) -> str | None:
    """Put `value` in `cell` as what it is: a number, or text that is never a formula (data type `s`; a literal
    text also gets Excel's quote prefix, so Excel does not evaluate `=...` even when the cell is edited, and
    validation reads it back as the text it is). Returns why it could not be written, or None."""
    if isinstance(value, str):
        if len(value) > MAX_CELL_TEXT:
            return f"it is {len(value):,} characters long, more than an Excel cell holds"
        if ILLEGAL_CHARACTERS_RE.search(value):
            return "it holds control characters an Excel cell cannot store"
        cell.value = value
        cell.data_type = "s"  # openpyxl made text starting with '=' a formula
        cell.quotePrefix = literal
        return None
    cell.value = value
    cell.quotePrefix = False
    return None


def lock_file_of(path: Path) -> Path:
    """Excel's owner file, present while someone has the workbook open (Windows, macOS, LibreOffice)."""
    return path.with_name("~$" + path.name)


def _same_job(sheet: Any, row: int, columns: dict[str, int], job: Job) -> bool:
    """The row still describes the job (the workbook may have been edited while the run went on)."""
    def cell(name: str) -> str:
        return str(sheet.cell(row=row, column=columns[name]).value or "").strip() if name in columns else ""

    return cell("source_name") == job.source_name and cell("table_name") == job.table_name


def update_workbook(path: str | Path, results: Sequence[JobResult], when: datetime | None = None) -> WriteBackOutcome:
    """Write the results into `path`; returns what happened in one line, never raises for a locked file."""
    target = Path(path)
    when = (when or datetime.now()).replace(microsecond=0)
    owner = lock_file_of(target)
    if owner.exists():
        return WriteBackOutcome(False, f"workbook not updated: {target} is open in Excel ({owner.name} exists); "
                                       f"close it and run again with --write-back")
    if not os.access(target, os.W_OK):
        return WriteBackOutcome(False, f"workbook not updated: {target} is read-only; make it writable "
                                       f"(the run itself succeeded or failed as shown above)")
    book = load_workbook(target)  # not read_only/data_only: formulas, styles, comments, validations survive
    sheet = book[SHEET_NAME]
    header_row = next(r for r in range(1, sheet.max_row + 1)
                      if any(c.value not in (None, "") for c in sheet[r]))
    columns = {_header(c.value): c.column for c in sheet[header_row] if _header(c.value)}
    for name in WRITTEN_COLUMNS:  # an older workbook without the column gets it at the end
        if name not in columns:
            column = sheet.max_column + 1
            sheet.cell(row=header_row, column=column, value=name).font = Font(bold=True)
            columns[name] = column
    updated, moved, skipped = [], [], []
    for result in results:
        if result.status is JobStatus.SKIPPED or not result.job.row:
            continue
        row = result.job.row
        if not _same_job(sheet, row, columns, result.job):
            moved.append(result.job.name)
            continue
        date_cell = sheet.cell(row=row, column=columns["last_run_date"], value=when)
        date_cell.number_format = DATE_FORMAT
        sheet.cell(row=row, column=columns["last_run_status"], value=result.status.value)
        if result.job.is_incremental and result.watermark_end is not None:
            refused = write_value(sheet.cell(row=row, column=columns["last_watermark"]),
                                  *watermark_cell(result.watermark_end))
            if refused:
                skipped.append(f"{result.job.name} ({refused})")
        updated.append(result.job.name)
    try:
        _save_atomically(book, target)
    except OSError as exc:
        return WriteBackOutcome(False, f"workbook not updated: cannot replace {target} ({exc.strerror or exc}); "
                                       f"it may be open in another program or read-only")
    finally:
        book.close()
    message = f"workbook updated: {target} ({len(updated)} job(s))"
    if moved:
        message += f"; rows changed during the run, not updated: {', '.join(moved)}"
    if skipped:
        message += f"; last_watermark left as it was for {', '.join(skipped)} (the lake's state holds it)"
    return WriteBackOutcome(True, message)


def _save_atomically(book: Any, target: Path) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".xlsx.tmp", dir=target.parent)
    os.close(handle)
    try:
        book.save(temp)
        shutil.copymode(target, temp)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
