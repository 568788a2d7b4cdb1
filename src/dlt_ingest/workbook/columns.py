"""The columns of the `SourceConfig` sheet, as data.

This table is the single source for validation, `config/config_schema.json`, the workbook template and
`docs/configuration.md` (a test fails when the docs miss a column), so a new column is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["text", "name", "choice", "bool", "watermark", "int", "names", "datetime", "json", "types"]

SHEET_NAME = "SourceConfig"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: ColumnKind
    description: str
    example: str
    required: bool = False
    choices: tuple[str, ...] = ()
    auto: bool = False  # filled by `ingest run --write-back`, never required from the analyst


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "source_type",
        "choice",
        "Kind of source; picks the module that extracts it. Must be a registered type "
        "(`ingest validate-config` lists them).",
        "postgresql",
        required=True,
    ),
    ColumnSpec(
        "source_name",
        "name",
        "Name of the connection: the credentials live under `[sources.<source_name>]` in any secret "
        "provider, and the lake folder of the source is named after it. Letters, digits and `_`, "
        "starting with a letter.",
        "postgres",
        required=True,
    ),
    ColumnSpec(
        "table_name",
        "name",
        "Table or view to extract (database sources), or the resource name (API sources). "
        "Spaces and mixed case are allowed; the lake folder uses its snake_case form.",
        "orders",
        required=True,
    ),
    ColumnSpec(
        "schema_name",
        "name",
        "Database schema (owner) of the table. Required for Oracle; optional elsewhere "
        "(the connection's default schema is used).",
        "sales",
    ),
    ColumnSpec(
        "load_type",
        "choice",
        "FULL appends a complete snapshot of the table under today's date folder; INCREMENTAL "
        "loads only rows whose watermark column is newer than the last loaded value.",
        "INCREMENTAL",
        required=True,
        choices=("FULL", "INCREMENTAL"),
    ),
    ColumnSpec(
        "watermark_column",
        "name",
        "Column (database) or record path (API) that grows with every change; required for "
        "INCREMENTAL, must be empty for FULL.",
        "updated_at",
    ),
    ColumnSpec(
        "last_watermark",
        "watermark",
        "Where the first INCREMENTAL run starts (rows with a greater or equal value are loaded). "
        "An Excel date/datetime cell, an ISO-8601 text such as 2026-01-15T00:00:00, or a whole "
        "number. Later runs continue from the state stored in the lake.",
        "2026-01-15 00:00:00",
    ),
    ColumnSpec(
        "api_endpoint",
        "text",
        "Path of the endpoint below the source's base_url; required for `api` sources.",
        "coins/markets",
    ),
    ColumnSpec(
        "enabled",
        "bool",
        "Whether the job runs: Y/N, yes/no, true/false or 1/0 in any case.",
        "Y",
        required=True,
    ),
    ColumnSpec(
        "primary_key",
        "names",
        "Column(s) that identify a row, separated by commas. Used to deduplicate rows that share "
        "the watermark boundary and for current-state tables.",
        "id",
    ),
    ColumnSpec(
        "chunk_size",
        "int",
        "Rows fetched per batch from the source (default 50000, at most 1000000). Larger is faster, "
        "smaller uses less memory.",
        "100000",
    ),
    ColumnSpec(
        "backend",
        "choice",
        "Database sources: how rows are read. Empty or auto picks the fastest backend that keeps every "
        "column type exact (PostgreSQL: duckdb, else adbc, else connectorx, else pyarrow); a name forces it "
        "for this row over the source's `backend` setting.",
        "auto",
        choices=("auto", "pyarrow", "connectorx", "adbc", "duckdb"),
    ),
    ColumnSpec(
        "include_columns",
        "names",
        "Database sources: read only these columns (separated by commas); empty reads every column. The "
        "columns not listed are never selected from the source.",
        "id, customer_id, total, updated_at",
    ),
    ColumnSpec(
        "exclude_columns",
        "names",
        "Database sources: never read these columns (separated by commas), e.g. a column no lake type can "
        "hold exactly, or one the lake must not have.",
        "notes, internal_flags",
    ),
    ColumnSpec(
        "column_types",
        "types",
        "Database sources: lake types that override the type contract for some columns, as `column: type` "
        "pairs separated by `;`. Types: text (the server's text of the value), int64, decimal(p,s), "
        "timestamptz (a timestamp without zone whose values are UTC). A value that does not fit fails the job.",
        "amount: decimal(38,18); payload: text",
    ),
    ColumnSpec(
        "schema_evolution",
        "choice",
        "Database sources: what a column type change in the source does when the lake's folder cannot hold "
        "the new type: fail (the default) stops the job with the fix; evolve lets the folder hold the new "
        "type from this load on (readers then see both types).",
        "fail",
        choices=("fail", "evolve"),
    ),
    ColumnSpec(
        "api_params",
        "json",
        "API sources: query parameters of this endpoint as a JSON object; they override the "
        "source's `[sources.<source_name>.params]`.",
        '{"vs_currency": "usd", "per_page": 100}',
    ),
    ColumnSpec(
        "data_selector",
        "text",
        "API sources: JSONPath of the records in each response (`data`, `results.items`); "
        "empty detects it.",
        "data",
    ),
    ColumnSpec(
        "paginator",
        "text",
        "API sources: how to get the next page. A name (auto, single_page, json_link, header_link, "
        "header_cursor, offset, page_number, cursor) or a JSON object with options; empty detects it, and a job "
        "fails when dlt can only guess.",
        '{"type": "offset", "limit": 100}',
    ),
    ColumnSpec(
        "cursor_param",
        "text",
        "API sources, INCREMENTAL: query parameter that receives the last loaded watermark value "
        "(e.g. `updated_since`). Empty: every run reads the whole endpoint and keeps only newer records.",
        "updated_since",
    ),
    ColumnSpec(
        "current_table",
        "bool",
        "Also keep a deduplicated current-state Delta table `<table>_current` beside the append-only "
        "history, upserted on primary_key (needs primary_key; deletes reach it with detect_deletes). Empty uses "
        "`current_tables` under [ingest] in .dlt/config.toml.",
        "Y",
    ),
    ColumnSpec(
        "detect_deletes",
        "bool",
        "Database sources, INCREMENTAL with a primary_key: after each run, compare the source's keys with the "
        "lake's and write a tombstone (the key and `_deleted_at`) for each row the source deleted; the "
        "current-state table drops it. Empty uses `detect_deletes` under [ingest] in .dlt/config.toml.",
        "Y",
    ),
    ColumnSpec(
        "last_run_date",
        "datetime",
        "When the job last ran. Filled in by `ingest run --write-back`.",
        "2026-02-12 10:15:30",
        auto=True,
    ),
    ColumnSpec(
        "last_run_status",
        "text",
        "Status of the last run (SUCCESS/FAILED). Filled in by `ingest run --write-back`.",
        "SUCCESS",
        auto=True,
    ),
)

COLUMNS_BY_NAME: dict[str, ColumnSpec] = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
