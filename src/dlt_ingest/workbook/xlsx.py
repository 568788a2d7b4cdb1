"""One worksheet of an .xlsx file, read as a stream of cells in bounded time and memory.

An .xlsx file is a zip of XML parts. Only the parts needed for one sheet are read ([Content_Types].xml,
the workbook and its relationships, the styles for date formats, the shared strings and that sheet),
each through expat in chunks with a byte budget, DTDs refused. A cell is kept only if the caller asks for
its column (a stray formatted cell at XFD1048576 costs one callback, not a 16384 x 1048576 grid); shared
strings are resolved in one pass for exactly the cells kept. A damaged part raises `PackageDamaged`
naming the part; a damaged value inside a cell becomes a cell of kind `damaged` with what is wrong, so
the caller can report it at the cell.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH

MAX_ROW, MAX_COLUMN = 1_048_576, 16_384  # Excel's grid
SMALL_PART_BYTES = 64 * 1024 * 1024  # content types, workbook, relationships, styles
LARGE_PART_BYTES = 1024 * 1024 * 1024  # a sheet or the shared strings: about 20 s of parsing at most
CHUNK_BYTES = 1 << 20
_WORKSHEET = "/relationships/worksheet"
_OFFICE_DOCUMENT = "/relationships/officeDocument"


class PackageDamaged(Exception):
    """A part of the file cannot be read; `part` names it, `detail` says how it is broken."""

    def __init__(self, part: str, detail: str) -> None:
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.detail = detail


class SheetNotFound(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class NotAWorksheet(Exception):
    """The sheet exists but is a chart sheet (or another kind of part), not a grid of cells."""


@dataclass(slots=True)
class SheetCell:
    """One cell as stored. kind: text, shared (value = string index until resolved), number, bool, date,
    time, error (value like '#REF!'), formula (value = '=...'), damaged (value = what is wrong)."""

    row: int
    column: int
    kind: str
    value: Any
    style: int = 0


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def refuse_dtd(parser: Any, part: str) -> None:
    """No DTD, no entity declarations: Excel never writes them, and they are how XML bombs work."""
    def no_dtd(*_: Any) -> None:
        raise PackageDamaged(part, "declares a DTD, which no Excel file does")

    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd


class Package:
    """The zip and its parts, each read through a bounded, DTD-free XML parser."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = {info.filename.lstrip("/"): info for info in archive.infolist()}

    def parse(self, part: str, start: Callable[[str, dict[str, str]], None] | None = None,
              end: Callable[[str], None] | None = None, text: Callable[[str], None] | None = None,
              limit: int = SMALL_PART_BYTES, stop: Callable[[], bool] | None = None) -> None:
        info = self.names.get(part)
        if info is None:
            raise PackageDamaged(part, "is missing")
        if info.file_size > limit:
            raise PackageDamaged(part, f"is {info.file_size:,} bytes uncompressed, more than the {limit:,} read")
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.buffer_size = 1 << 16
        refuse_dtd(parser, part)
        if start is not None:
            parser.StartElementHandler = lambda name, attrs: start(_local(name), attrs)
        if end is not None:
            parser.EndElementHandler = lambda name: end(_local(name))
        if text is not None:
            parser.CharacterDataHandler = text
        try:
            with self.archive.open(info) as stream:
                self._feed(parser, stream, stop)
        except expat.ExpatError as exc:
            raise PackageDamaged(part, f"is not valid XML ({expat.ErrorString(exc.code)} at line {exc.lineno})") \
                from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:  # CRC, truncated stream, bad compression
            raise PackageDamaged(part, f"cannot be unpacked ({type(exc).__name__}: {str(exc)[:80]})") from None

    @staticmethod
    def _feed(parser: Any, stream: IO[bytes], stop: Callable[[], bool] | None) -> None:
        while True:
            chunk = stream.read(CHUNK_BYTES)
            if not chunk:
                parser.Parse(b"", True)
                return
            parser.Parse(chunk, False)
            if stop is not None and stop():
                return

    def relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, target part) of `part`'s .rels; an absent .rels is no relationships."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", name + ".rels")
        found: dict[str, tuple[str, str]] = {}
        if rels not in self.names:
            return found

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "Relationship" and attrs.get("TargetMode") != "External":
                target = attrs.get("Target", "")
                resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(folder, target))
                found[attrs.get("Id", "")] = (attrs.get("Type", ""), resolved)

        self.parse(rels, start)
        return found


@dataclass
class Workbook:
    """What the workbook part says: sheets by name, where each lives, dates' epoch, styles that are dates."""

    package: Package
    sheets: dict[str, tuple[str, str]]  # name -> (relationship type, part)
    epoch: datetime
    date_styles: set[int]
    time_styles: set[int]
    shared_strings: str | None
    quoted_styles: set[int] = field(default_factory=set)  # Excel's quote prefix: the text is literal


def open_workbook(archive: zipfile.ZipFile) -> Workbook:
    package = Package(archive)
    roots: list[str] = []
    package.parse("[Content_Types].xml", lambda tag, attrs: roots.append(tag) if not roots else None)
    if roots != ["Types"]:
        raise PackageDamaged("[Content_Types].xml", "is not a list of content types")
    main = next((target for kind, target in package.relationships("").values() if kind.endswith(_OFFICE_DOCUMENT)),
                "xl/workbook.xml")
    order: list[tuple[str, str]] = []
    epoch = [WINDOWS_EPOCH]

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "sheet":
            relation = next((v for k, v in attrs.items() if _local(k) == "id" and k != "sheetId"), "")
            order.append((attrs.get("name", ""), relation))
        elif tag == "workbookPr" and attrs.get("date1904", "").lower() in ("1", "true"):
            epoch[0] = MAC_EPOCH

    package.parse(main, start)
    relations = package.relationships(main)
    sheets = {name: relations.get(relation, ("", "")) for name, relation in order}
    styles = next((t for k, t in relations.values() if k.endswith("/relationships/styles")), None)
    strings = next((t for k, t in relations.values() if k.endswith("/relationships/sharedStrings")), None)
    date_styles, time_styles, quoted = _cell_styles(package, styles) if styles in package.names else (set(), set(),
                                                                                                    set())
    return Workbook(package, sheets, epoch[0], date_styles, time_styles,
                    strings if strings in package.names else None, quoted)


def _cell_styles(package: Package, part: str | None) -> tuple[set[int], set[int], set[int]]:
    """Indexes of cell formats (the `s` of a cell) that show a number as a date, as a duration, and that carry
    Excel's quote prefix (text typed after a ')."""
    assert part is not None
    custom: dict[int, str] = {}
    formats: list[int] = []
    quoted: set[int] = set()
    inside = [""]

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "numFmt":
            try:
                custom[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
            except ValueError:
                raise PackageDamaged(part, f"has a number format id '{attrs.get('numFmtId')}'") from None
        elif tag in ("cellXfs", "cellStyleXfs"):
            inside[0] = tag
        elif tag == "xf" and inside[0] == "cellXfs":
            if attrs.get("quotePrefix", "0").lower() in ("1", "true"):
                quoted.add(len(formats))
            try:
                formats.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                raise PackageDamaged(part, f"has a number format id '{attrs.get('numFmtId')}'") from None

    def end(tag: str) -> None:
        if tag in ("cellXfs", "cellStyleXfs"):
            inside[0] = ""

    package.parse(part, start, end)
    dates, times = set(), set()
    for index, format_id in enumerate(formats):
        code = custom.get(format_id) or BUILTIN_FORMATS.get(format_id, "General")
        if is_date_format(code):
            dates.add(index)
        if is_timedelta_format(code):
            times.add(index)
    return dates, times, quoted


def read_shared_strings(workbook: Workbook, wanted: set[int]) -> dict[int, str]:
    """The shared strings at the `wanted` indexes, in one pass that stops after the last one."""
    found: dict[int, str] = {}
    if not wanted or workbook.shared_strings is None:
        return found
    last = max(wanted)
    state = {"index": -1, "depth_rph": 0, "keep": False, "in_t": False}
    parts: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "si":
            state["index"] += 1
            state["keep"] = state["index"] in wanted
            parts.clear()
        elif tag == "rPh":
            state["depth_rph"] += 1  # phonetic hints: not part of the text
        elif tag == "t":
            state["in_t"] = True

    def end(tag: str) -> None:
        if tag == "si" and state["keep"]:
            found[state["index"]] = "".join(parts)
        elif tag == "rPh":
            state["depth_rph"] -= 1
        elif tag == "t":
            state["in_t"] = False

    def text(data: str) -> None:
        if state["keep"] and state["in_t"] and not state["depth_rph"]:
            parts.append(data)

    workbook.package.parse(workbook.shared_strings, start, end, text, LARGE_PART_BYTES,
                           stop=lambda: state["index"] > last)
    return found


def worksheet_part(workbook: Workbook, name: str) -> str:
    """The part holding sheet `name`; raises when it is missing or is not a worksheet."""
    if name not in workbook.sheets:
        raise SheetNotFound(list(workbook.sheets))
    kind, part = workbook.sheets[name]
    if not kind.endswith(_WORKSHEET):
        raise NotAWorksheet(kind.rsplit("/", 1)[-1] or "unknown")
    if part not in workbook.package.names:
        raise PackageDamaged(part or f"the part of sheet '{name}'", "is missing")
    return part
