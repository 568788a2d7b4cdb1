"""Build the deterministic SQLite demo database (data/demo.sqlite) that the shipped workbook reads."""

from __future__ import annotations

import sys

from dlt_ingest.demo import DEMO_DATABASE, build_demo_database

if __name__ == "__main__":
    path = build_demo_database(sys.argv[1] if len(sys.argv) > 1 else DEMO_DATABASE)
    print(f"Demo database written to {path}")
