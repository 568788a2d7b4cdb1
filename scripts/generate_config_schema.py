"""Regenerate config/config_schema.json from the column model (a test fails when it is stale)."""

from __future__ import annotations

from pathlib import Path

from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook.schema import render_json_schema

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "config" / "config_schema.json"
    target.write_text(render_json_schema(REGISTRY.known_types()), encoding="utf-8")
    print(f"wrote {target}")
