"""The JSON Schema of one workbook row, generated from `columns.COLUMNS` (never hand-written)."""

from __future__ import annotations

import json
from typing import Any

from dlt_ingest.workbook.columns import COLUMNS, ColumnSpec

_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "name": {"type": "string", "maxLength": 128, "pattern": "^[^\"'`;\\\\/]+$"},
    "bool": {"type": ["string", "boolean", "integer"],
             "enum": ["Y", "N", "yes", "no", "true", "false", "1", "0", True, False, 1, 0]},
    "watermark": {"type": ["string", "integer"], "description_suffix": "date, ISO-8601 datetime or integer"},
    "int": {"type": "integer", "minimum": 1},
    "names": {"type": "string"},
    "datetime": {"type": ["string", "null"]},
    "json": {"type": "string", "contentMediaType": "application/json"},
    "types": {"type": "string", "pattern": "^[^:;]+:[^;]+(;[^:;]+:[^;]+)*;?$"},
}


def _column_schema(spec: ColumnSpec, source_types: list[str]) -> dict[str, Any]:
    schema = {k: v for k, v in _KIND_SCHEMA.get(spec.kind, {"type": "string"}).items()
              if k != "description_suffix"}
    if spec.name == "source_type":
        schema = {"type": "string", "enum": source_types}
    elif spec.choices:
        schema = {"type": "string", "enum": list(spec.choices)}
    schema["description"] = spec.description
    schema["examples"] = [spec.example]
    return schema


def json_schema(source_types: list[str]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dlt-ingest SourceConfig row",
        "description": "One row of the SourceConfig sheet of config/ingestion_config.xlsx. "
                       "Generated from dlt_ingest.workbook.columns; do not edit by hand.",
        "type": "object",
        "properties": {c.name: _column_schema(c, source_types) for c in COLUMNS},
        "required": [c.name for c in COLUMNS if c.required],
        "additionalProperties": True,
    }


def render_json_schema(source_types: list[str]) -> str:
    return json.dumps(json_schema(source_types), indent=2, ensure_ascii=False) + "\n"
