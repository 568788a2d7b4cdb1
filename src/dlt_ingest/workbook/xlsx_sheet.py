"""Streaming one worksheet part: each `<c>` typed from its XML as it goes by, only the wanted columns kept.

Two readers give the same cells. `FastSheetScan` finds rows and cells with regular expressions in the
decompressed text (C speed: a cell in an ignored column costs a dictionary lookup) while expat, with no
Python handlers, checks in the same pass that the part is well-formed XML. A part the regular
expressions must not be trusted with (XML comments, CDATA, processing instructions, not UTF-8) makes it
hand over to `SheetStream`, a complete expat reader with Python handlers, which starts again.

A cell's type comes from its `t` attribute and, for numbers, its style (a date format makes it a date or
a time, as Excel shows it); a value that cannot be what its type says becomes a `damaged` cell carrying
what is wrong, so validation reports it at the cell instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from xml.parsers import expat

from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel, from_ISO8601

from dlt_ingest.workbook.xlsx import (
    CHUNK_BYTES,
    LARGE_PART_BYTES,
    MAX_COLUMN,
    MAX_ROW,
    PackageDamaged,
    SheetCell,
    Workbook,
    refuse_dtd,
)

KEEP, IGNORE, STRAY = 1, 0, -1
_REF = re.compile(r"^([A-Z]{1,3})(\d{1,7})$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_ATTRIBUTES: dict[str, re.Pattern[str]] = {
    name: re.compile(r"(?:^|\s)" + name + r"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')") for name in ("r", "t", "s")
}


_SPELLED = {name: f' {name}="' for name in _ATTRIBUTES}


class RowSink(Protocol):
    """Who receives the rows: `wants(column)` says KEEP, IGNORE or STRAY for a column; `on_row` gets each
    row's kept cells and returns False to stop; `on_stray` is told of each value in a STRAY column."""

    def wants(self, column: int) -> int: ...

    def on_row(self, number: int, cells: list[SheetCell]) -> bool: ...

    def on_stray(self, row: int, column: int) -> None: ...

    def ignored(self) -> frozenset[int]:
        """The columns `wants` IGNOREs (known once the header is read), so a scan may skip them unseen."""
        ...


class NeedsFullParser(Exception):
    """The fast scan met XML it must not interpret with regular expressions."""


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _unescape(text: str) -> str:
    if "&" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name[0] != "#":
            return _NAMED[name]
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        return chr(code) if 0 < code <= 0x10FFFF else ""

    return _ENTITY.sub(one, text)


def _attribute(attributes: str, name: str) -> str | None:
    start = attributes.find(_SPELLED[name])
    if start >= 0:  # the usual spelling, without a regular expression
        start += len(name) + 3
        end = attributes.find('"', start)
        if end >= 0:
            return attributes[start:end]
    match = _ATTRIBUTES[name].search(attributes)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def _style(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _cell_reference(part: str, reference: str) -> tuple[int, int]:
    """(row, column) of `B7`; a name outside Excel's grid means a damaged part."""
    match = _REF.match(reference)
    row, column = (int(match.group(2)), column_number(match.group(1))) if match else (0, 0)
    if not (1 <= column <= MAX_COLUMN and 1 <= row <= MAX_ROW):
        raise PackageDamaged(part, f"has a cell named '{reference[:20]}', outside Excel's grid")
    return row, column


def _row_number(part: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROW:
        raise PackageDamaged(part, f"has a row numbered '{text[:20]}' (Excel has 1 to {MAX_ROW:,})")
    return int(text)


def type_cell(workbook: Workbook, cell: SheetCell, kind: str, formula: str | None, inline: str | None,
              raw: str | None) -> bool:
    """Type `cell` from its XML (`t`, the text of <f>, of <is>, of <v>); False when it holds no value."""
    if formula is not None:
        cell.kind, cell.value = "formula", "=" + formula if formula else "=(shared formula)"
        return True
    if kind == "inlineStr":
        if inline is None:
            return False
        cell.kind, cell.value = "text", inline
        return True
    if raw is None:
        return False
    if kind in ("n", ""):
        _number_cell(workbook, cell, raw.strip())
    elif kind == "s":
        if raw.strip().isdigit():
            cell.kind, cell.value = "shared", int(raw)
        else:
            cell.kind, cell.value = "damaged", f"refers to the shared string '{raw[:20]}', which is no number"
    elif kind == "b":
        if raw.strip() in ("0", "1"):
            cell.kind, cell.value = "bool", raw.strip() == "1"
        else:
            cell.kind, cell.value = "damaged", f"stores '{raw[:20]}' as TRUE/FALSE"
    elif kind == "e":
        cell.kind, cell.value = "error", raw.strip()[:20]
    elif kind == "str":
        cell.kind, cell.value = "text", raw
    elif kind == "d":
        _iso_date_cell(cell, raw.strip())
    else:
        cell.kind, cell.value = "damaged", f"has the unknown cell type '{kind[:10]}'"
    return True


def _iso_date_cell(cell: SheetCell, raw: str) -> None:
    try:
        value = from_ISO8601(raw)
    except (ValueError, TypeError):
        value = None
    if value is None:
        cell.kind, cell.value = "damaged", f"stores '{raw[:20]}' as a date"
    else:
        cell.kind = "date" if isinstance(value, datetime) or not hasattr(value, "hour") else "time"
        cell.value = value


def _number_cell(workbook: Workbook, cell: SheetCell, raw: str) -> None:
    if _INT.match(raw):
        number: int | float = int(raw)
    elif _FLOAT.match(raw):
        number = float(raw)
    else:
        cell.kind, cell.value = "damaged", f"stores '{raw[:20]}' as a number"
        return
    if cell.style not in workbook.date_styles:
        cell.kind, cell.value = "number", number
        return
    try:
        value = from_excel(number, workbook.epoch, timedelta=cell.style in workbook.time_styles)
    except (OverflowError, ValueError):
        cell.kind, cell.value = "damaged", f"is shown as a date but stores {raw[:20]}, no date Excel can show"
        return
    cell.kind = "date" if isinstance(value, datetime) else "time"
    cell.value = value


def stream_sheet(workbook: Workbook, part: str, new_sink: Callable[[], RowSink]) -> RowSink:
    """Read the sheet into a sink made by `new_sink`; returns the sink that saw the whole sheet."""
    sink = new_sink()
    try:
        FastSheetScan(workbook, part, sink).parse()
    except NeedsFullParser:
        sink = new_sink()
        SheetStream(workbook, part, sink).parse()
    return sink


class FastSheetScan:
    """Rows and cells by regular expression over the decompressed text; expat checks well-formedness."""

    def __init__(self, workbook: Workbook, part: str, sink: RowSink) -> None:
        self.workbook = workbook
        self.part = part
        self.sink = sink
        self.row = 0
        self.stopped = False
        self.columns: dict[str, int] = {}
        self.row_close = ""
        self.prefix = ""
        self.ignored: frozenset[int] = frozenset()

    def _patterns(self, prefix: str) -> None:
        p = re.escape(prefix)
        self.row_close = f"</{prefix}row>"
        # Excel, LibreOffice and openpyxl write `r` first; a cell written otherwise takes the slower branch
        self.prefix = prefix
        self.cell = self._cell_pattern(frozenset())
        self.cell_close = f"</{prefix}c>"
        self.formula = re.compile(rf"<{p}f\b[^>]*?(?:/>|>(.*?)</{p}f>)", re.S)
        self.value = re.compile(rf"<{p}v\b[^>]*?(?:/>|>(.*?)</{p}v>)", re.S)
        self.text = re.compile(rf"<{p}t\b[^>]*?(?:/>|>(.*?)</{p}t>)", re.S)
        self.phonetic = re.compile(rf"<{p}rPh\b.*?</{p}rPh>", re.S)

    def _cell_pattern(self, ignored: frozenset[int]) -> re.Pattern[str]:
        """Start tags of cells, skipping (inside the regular expression engine) those named in an ignored column;
        a cell's body is looked at (str.find) only when its column is wanted."""
        self.ignored = ignored
        p = re.escape(self.prefix)
        skip = "|".join(get_column_letter(c) for c in sorted(ignored))
        unseen = f'(?! r="(?:{skip})[0-9])' if skip else ""
        return re.compile(rf'<{p}c\b{unseen}(?: r="([A-Z]{{1,3}})([0-9]{{1,7}})")?([^>]*?)(/?)>')

    def parse(self) -> None:
        info = self.workbook.package.names.get(self.part)
        if info is None:
            raise PackageDamaged(self.part, "is missing")
        if info.file_size > LARGE_PART_BYTES:
            raise PackageDamaged(self.part, f"is {info.file_size:,} bytes uncompressed, more than the "
                                            f"{LARGE_PART_BYTES:,} read")
        checker = expat.ParserCreate()
        refuse_dtd(checker, self.part)
        checker.CommentHandler = self._hand_over
        checker.StartCdataSectionHandler = self._hand_over
        checker.ProcessingInstructionHandler = self._hand_over
        try:
            with self.workbook.package.archive.open(info) as stream:
                self._read(stream, checker)
        except expat.ExpatError as exc:
            raise PackageDamaged(self.part, f"is not valid XML ({expat.ErrorString(exc.code)} at line "
                                            f"{exc.lineno})") from None
        except UnicodeDecodeError:
            raise NeedsFullParser() from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise PackageDamaged(self.part, f"cannot be unpacked ({type(exc).__name__}: {str(exc)[:80]})") from None

    def _read(self, stream: Any, checker: Any) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")()
        pending = ""
        prefix: str | None = None
        while not self.stopped:
            chunk = stream.read(CHUNK_BYTES)
            final = not chunk
            if prefix is None and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise NeedsFullParser()  # UTF-16: expat reads it, the regular expressions would not
            checker.Parse(chunk, final)  # first: a comment or CDATA in this chunk hands over before it is read
            pending += decoder.decode(chunk, final)
            if prefix is None:
                found = re.search(r"<([\w.-]+:)?worksheet\b", pending)
                if found is None:
                    if len(pending) > CHUNK_BYTES or final:
                        raise NeedsFullParser()
                    continue
                prefix = found.group(1) or ""
                self._patterns(prefix)
            end = len(pending) if final else pending.rfind(self.row_close)
            if end >= 0:
                cut = end if final else end + len(self.row_close)
                self._scan(pending[:cut])
                pending = pending[cut:]
            if final:
                return

    @staticmethod
    def _hand_over(*_: Any) -> None:
        raise NeedsFullParser()

    def _scan(self, text: str) -> None:
        """Every cell in `text` (whole rows only), grouped into rows by the row number of its name."""
        cells: list[SheetCell] = []
        row = 0
        wants, columns, part = self.sink.wants, self.columns, self.part
        if self.sink.ignored() != self.ignored:
            self.cell = self._cell_pattern(self.sink.ignored())
        for match in self.cell.finditer(text):
            letters, digits = match.group(1), match.group(2)
            if letters is None:
                reference = _attribute(match.group(3), "r")
                if not reference:
                    raise NeedsFullParser()  # positions count from the row's start: the full reader keeps them
                number, column = _cell_reference(part, reference)
            else:
                column = columns.get(letters, 0)
                if not column:
                    number, column = _cell_reference(part, letters + digits)
                    columns[letters] = column
                number = int(digits)
                if not 1 <= number <= MAX_ROW:
                    _cell_reference(part, letters + digits)
            keep = wants(column)
            if keep == IGNORE:
                continue
            if number != row:
                if cells and not self.sink.on_row(row, cells):
                    self.stopped = True
                    return
                cells, row = [], number
            attributes = match.group(3)
            cell = SheetCell(number, column, "", None, _style(_attribute(attributes, "s")) if "s" in attributes else 0)
            body = None
            if not match.group(4):
                end = text.find(self.cell_close, match.end())
                if end < 0:
                    raise PackageDamaged(part, f"has a cell {cell.row}/{cell.column} without its end tag")
                body = text[match.end():end]
            if not self._type(cell, attributes, body):
                continue
            if keep == KEEP:
                cells.append(cell)
            else:
                self.sink.on_stray(cell.row, cell.column)
        if cells and not self.sink.on_row(row, cells):
            self.stopped = True

    def _type(self, cell: SheetCell, attributes: str, body: str | None) -> bool:
        if not body:
            return False
        kind = (_attribute(attributes, "t") or "n") if "t" in attributes else "n"
        formula = self.formula.search(body) if "f" in body else None
        inline = value = None
        if kind == "inlineStr":
            runs = self.text.findall(self.phonetic.sub("", body) if "rPh" in body else body)
            inline = _unescape("".join(runs)) if runs else None
        else:
            value = self.value.search(body)
        return type_cell(self.workbook, cell, kind, _unescape(formula.group(1) or "") if formula else None, inline,
                         _unescape(value.group(1) or "") if value else None)


class SheetStream:
    """The complete reader: expat with Python handlers, for any well-formed sheet part."""

    def __init__(self, workbook: Workbook, part: str, sink: RowSink) -> None:
        self.workbook = workbook
        self.part = part
        self.sink = sink
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
            reference = attrs.get("r")
            if reference:
                self.row, self.column = _cell_reference(self.part, reference)
            else:
                self.column += 1
            self.kind = attrs.get("t", "n")
            self.keep = self.sink.wants(self.column)
            self.cell = SheetCell(self.row, self.column, "", None, _style(attrs.get("s")))
            self.texts = {}
        elif tag in ("v", "f", "t") and self.cell is not None and not self.phonetic:
            self.capture = tag
            self.texts.setdefault(tag, [])
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "row":
            reference = attrs.get("r")
            self.row = self.row + 1 if not reference else _row_number(self.part, reference)
            self.column = 0
            self.cells = []

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
            joined = {name: "".join(parts) for name, parts in self.texts.items()}
            if self.keep != IGNORE and type_cell(self.workbook, cell, self.kind, joined.get("f"), joined.get("t"),
                                                 joined.get("v")):
                if self.keep == KEEP:
                    self.cells.append(cell)
                else:
                    self.sink.on_stray(cell.row, cell.column)
        elif tag == "row":
            if self.cells and not self.sink.on_row(self.row, self.cells):
                self.stopped = True
            self.cells = []
