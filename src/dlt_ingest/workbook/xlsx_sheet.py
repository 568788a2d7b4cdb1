"""Streaming one worksheet part: each `<c>` typed from its XML as it goes by, only the wanted columns kept.

A cell's type comes from its `t` attribute and, for numbers, its style (a date format makes it a date or
a time, as Excel shows it); a value that cannot be what its type says becomes a `damaged` cell carrying
what is wrong, so validation reports it at the cell instead of failing the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from openpyxl.utils.datetime import from_excel, from_ISO8601

from dlt_ingest.workbook.xlsx import LARGE_PART_BYTES, MAX_COLUMN, MAX_ROW, PackageDamaged, SheetCell, Workbook

_REF = re.compile(r"^([A-Z]{1,3})(\d{1,7})$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


KEEP, IGNORE, STRAY = 1, 0, -1


class SheetStream:
    """Parses a sheet part, handing each finished row's kept cells to `on_row(row_number, cells)`, which
    returns False to stop reading.

    `wants(column)` says what to do with a column's cells: KEEP them, IGNORE them, or report each one that
    holds a value as STRAY (`on_stray(row, column)`), so the caller can locate a value no column expects.
    """

    def __init__(self, workbook: Workbook, part: str, on_row: Callable[[int, list[SheetCell]], bool],
                 wants: Callable[[int], int], on_stray: Callable[[int, int], None]) -> None:
        self.workbook = workbook
        self.part = part
        self.on_row = on_row
        self.wants = wants
        self.on_stray = on_stray
        self.row = 0
        self.column = 0
        self.cells: list[SheetCell] = []
        self.cell: SheetCell | None = None
        self.kind = "n"
        self.keep = KEEP
        self.phonetic = 0  # inside <rPh>: a reading hint, not part of the text
        self.capture = ""  # the child whose text is collected: v, f or t (inline string)
        self.texts: dict[str, list[str]] = {}
        self.stopped = False

    def parse(self) -> None:
        self.workbook.package.parse(self.part, self._start, self._end, self._text, LARGE_PART_BYTES,
                                    stop=lambda: self.stopped)

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.stopped:
            return
        if tag == "c":
            self._start_cell(attrs)
        elif tag in ("v", "f", "t") and self.cell is not None and not self.phonetic:
            self.capture = tag
            self.texts.setdefault(tag, [])
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "row":
            reference = attrs.get("r")
            self.row = self.row + 1 if not reference else self._number(reference, MAX_ROW, "row")
            self.column = 0
            self.cells = []

    def _number(self, text: str, maximum: int, what: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= maximum:
            raise PackageDamaged(self.part, f"has a {what} numbered '{text[:20]}' (Excel has 1 to {maximum:,})")
        return int(text)

    def _start_cell(self, attrs: dict[str, str]) -> None:
        reference = attrs.get("r")
        if reference:
            match = _REF.match(reference)
            if match is None or not 1 <= column_number(match.group(1)) <= MAX_COLUMN \
                    or not 1 <= int(match.group(2)) <= MAX_ROW:
                raise PackageDamaged(self.part, f"has a cell named '{reference[:20]}', outside Excel's grid")
            self.column = column_number(match.group(1))
            self.row = int(match.group(2))
        else:
            self.column += 1
        self.kind = attrs.get("t", "n")
        try:
            style = int(attrs.get("s", "0"))
        except ValueError:
            style = 0
        self.keep = self.wants(self.column)
        self.cell = SheetCell(self.row, self.column, "", None, style)
        self.texts = {}

    def _text(self, data: str) -> None:
        if self.capture and self.keep != IGNORE:
            self.texts[self.capture].append(data)

    def _end(self, tag: str) -> None:
        if self.stopped:
            return
        if tag in ("v", "f", "t", "is"):
            self.capture = ""
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "c" and self.cell is not None:
            cell, self.cell = self.cell, None
            if self.keep != IGNORE and self._finish(cell):
                if self.keep == KEEP:
                    self.cells.append(cell)
                else:
                    self.on_stray(cell.row, cell.column)
        elif tag == "row":
            if self.cells and not self.on_row(self.row, self.cells):
                self.stopped = True
            self.cells = []

    def _finish(self, cell: SheetCell) -> bool:
        """Type the cell from its XML; False when it holds no value."""
        texts = self.texts
        if "f" in texts:
            formula = "".join(texts["f"])
            cell.kind, cell.value = "formula", "=" + formula if formula else "=(shared formula)"
            return True
        if self.kind == "inlineStr":
            if "t" not in texts:
                return False
            cell.kind, cell.value = "text", "".join(texts["t"])
            return True
        if "v" not in texts:
            return False
        raw = "".join(texts["v"])
        if self.kind in ("n", ""):
            self._number_cell(cell, raw.strip())
        elif self.kind == "s":
            if raw.strip().isdigit():
                cell.kind, cell.value = "shared", int(raw)
            else:
                cell.kind, cell.value = "damaged", f"refers to the shared string '{raw[:20]}', which is no number"
        elif self.kind == "b":
            if raw.strip() in ("0", "1"):
                cell.kind, cell.value = "bool", raw.strip() == "1"
            else:
                cell.kind, cell.value = "damaged", f"stores '{raw[:20]}' as TRUE/FALSE"
        elif self.kind == "e":
            cell.kind, cell.value = "error", raw.strip()[:20]
        elif self.kind == "str":
            cell.kind, cell.value = "text", raw
        elif self.kind == "d":
            try:
                value = from_ISO8601(raw.strip())
            except (ValueError, TypeError):
                value = None
            if value is None:
                cell.kind, cell.value = "damaged", f"stores '{raw[:20]}' as a date"
            else:
                cell.kind, cell.value = "time" if not isinstance(value, datetime) and hasattr(value, "hour") \
                    else "date", value
        else:
            cell.kind, cell.value = "damaged", f"has the unknown cell type '{self.kind[:10]}'"
        return True

    def _number_cell(self, cell: SheetCell, raw: str) -> None:
        if _INT.match(raw):
            number: int | float = int(raw)
        elif _FLOAT.match(raw):
            number = float(raw)
        else:
            cell.kind, cell.value = "damaged", f"stores '{raw[:20]}' as a number"
            return
        if cell.style not in self.workbook.date_styles:
            cell.kind, cell.value = "number", number
            return
        try:
            value = from_excel(number, self.workbook.epoch, timedelta=cell.style in self.workbook.time_styles)
        except (OverflowError, ValueError):
            cell.kind, cell.value = "damaged", f"is shown as a date but stores {raw[:20]}, no date Excel can show"
            return
        cell.kind = "date" if isinstance(value, datetime) else "time"
        cell.value = value
