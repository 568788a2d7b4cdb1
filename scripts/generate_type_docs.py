"""Regenerate the type-contract table of docs/sources.md from the contract (a test fails when it is stale)."""

from __future__ import annotations

from pathlib import Path

from dlt_ingest.sources.sql.type_table import replace_in

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "sources.md"
    target.write_text(replace_in(target.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {target}")
