"""Writing a workbook analysts can't easily get wrong: comments, drop-downs, frozen header, instructions.

A new workbook (`ingest init`, `ingest init-config`) holds one disabled example row per source type, so
nothing runs before the analyst enabled a row; the shipped demo workbook `config/ingestion_config.xlsx`
adds the enabled demo rows (`ingest init-config --demo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from dlt_ingest.errors import ConfigError
from dlt_ingest.workbook.columns import COLUMNS, SHEET_NAME

DEMO_ROWS: tuple[dict[str, Any], ...] = (
    {"source_type": "sqlite", "source_name": "demo", "table_name": "orders", "load_type": "INCREMENTAL",
     "watermark_column": "updated_at", "last_watermark": "2024-01-01T00:00:00", "primary_key": "id",
     "enabled": "Y"},
    {"source_type": "sqlite", "source_name": "demo", "table_name": "customers", "load_type": "FULL",
     "enabled": "Y"},
    {"source_type": "sqlite", "source_name": "demo", "table_name": "products", "load_type": "FULL",
     "enabled": "Y"},
)

TEMPLATE_ROWS: tuple[dict[str, Any], ...] = (
    {"source_type": "postgresql", "source_name": "postgres", "table_name": "orders", "schema_name": "public",
     "load_type": "INCREMENTAL", "watermark_column": "updated_at", "last_watermark": "2026-01-15T00:00:00",
     "primary_key": "id", "enabled": "N"},
    {"source_type": "oracle", "source_name": "oracle", "table_name": "CUSTOMERS", "schema_name": "SCOTT",
     "load_type": "FULL", "enabled": "N"},
    {"source_type": "mssql", "source_name": "sqlserver", "table_name": "products", "schema_name": "dbo",
     "load_type": "FULL", "enabled": "N"},
    {"source_type": "azure_sql", "source_name": "azure_sql", "table_name": "sales", "schema_name": "dbo",
     "load_type": "INCREMENTAL", "watermark_column": "modified_date", "last_watermark": "2026-01-01T00:00:00",
     "enabled": "N"},
    {"source_type": "api", "source_name": "coingecko", "table_name": "coins", "api_endpoint": "coins/markets",
     "paginator": "single_page", "load_type": "FULL", "enabled": "N"},
    {"source_type": "mysql", "source_name": "mysql", "table_name": "customers", "schema_name": "shop",
     "load_type": "FULL", "enabled": "N"},
    {"source_type": "sqlite", "source_name": "local_file", "table_name": "orders", "load_type": "FULL",
     "enabled": "N"},
)
ENABLED_CHOICES = ["Y", "N", "yes", "no", "true", "false", "1", "0"]

INSTRUCTIONS = (
    "How to use this workbook",
    "",
    "1. One row in SourceConfig = one ingestion job. Set enabled to Y (or yes, true, 1) to run it, N to keep it",
    "   as a draft. The example rows are disabled: change one to your table and enable it.",
    "2. source_name names the credentials: [sources.<source_name>] in .dlt/secrets.toml or a vault.",
    "3. FULL copies the whole table each run; INCREMENTAL needs watermark_column (e.g. updated_at).",
    "4. last_watermark is only where the FIRST incremental run starts; later runs continue from the lake.",
    "5. Check the workbook before committing it:  ingest validate-config",
    "6. Run it:  ingest run      (see docs/configuration.md for every column)",
    "7. ingest run --write-back fills last_run_date, last_run_status and last_watermark (grey headers) and",
    "   touches nothing else; close the workbook in Excel first, or the run reports it could not write.",
    "",
    "Columns:",
)


def init_workbook(path: str | Path, source_types: Sequence[str], force: bool = False, demo: bool = False) -> Path:
    """`ingest init-config`: one disabled example per source type (and the enabled demo rows with `demo`),
    the drop-down offering every registered type. Only an .xlsx path is written."""
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise ConfigError(f"{path}: a workbook is an .xlsx file: choose a path ending in .xlsx, e.g. "
                          f"{target.with_suffix('.xlsx')}")
    if target.exists() and not force:
        raise ConfigError(f"{path} already exists: pass --force to overwrite it, or choose another path")
    return write_workbook(path, DEMO_ROWS + TEMPLATE_ROWS if demo else TEMPLATE_ROWS, source_types=source_types)


def write_workbook(path: str | Path, rows: Sequence[dict[str, Any]] = DEMO_ROWS + TEMPLATE_ROWS,
                   source_types: Sequence[str] = ()) -> Path:
    """Write a fresh workbook with the given job rows."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET_NAME
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    auto_fill = PatternFill("solid", fgColor="E7E6E6")  # filled in by the tool, not by the analyst
    for index, spec in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=spec.name)
        cell.font = bold
        cell.fill = auto_fill if spec.auto else fill
        cell.comment = Comment(f"{spec.description}\nExample: {spec.example}", "dlt-ingest")
        width = max(len(spec.name), len(spec.example), *(len(str(r.get(spec.name, ""))) for r in rows))
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 3, 12), 40)
    for row_number, row in enumerate(rows, start=2):
        for index, spec in enumerate(COLUMNS, start=1):
            if spec.name in row:
                sheet.cell(row=row_number, column=index, value=row[spec.name])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}1"
    _add_choices(sheet, "source_type", list(source_types))
    _add_choices(sheet, "load_type", ["FULL", "INCREMENTAL"])
    _add_choices(sheet, "enabled", ENABLED_CHOICES, strict=False)
    notes = book.create_sheet("Instructions")
    lines = [*INSTRUCTIONS, *(f"  {c.name}: {c.description}" for c in COLUMNS)]
    for number, line in enumerate(lines, start=1):
        notes.cell(row=number, column=1, value=line)
    notes.column_dimensions["A"].width = 110
    notes["A1"].font = Font(bold=True, size=14)
    book.save(target)
    return target


def _add_choices(sheet: Any, column: str, choices: list[str], strict: bool = True) -> None:
    """A drop-down; `strict=False` lets a typed value through after a warning (validate-config decides)."""
    if not choices:
        return
    index = next(i for i, c in enumerate(COLUMNS, start=1) if c.name == column)
    letter = get_column_letter(index)
    validation = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                                showErrorMessage=True, errorStyle="stop" if strict else "warning",
                                errorTitle=f"Invalid {column}",
                                error=f"Choose one of: {', '.join(choices)}", showInputMessage=True,
                                promptTitle=column, prompt=f"Pick one: {', '.join(choices)}"[:255])
    sheet.add_data_validation(validation)
    validation.add(f"{letter}2:{letter}1000")
