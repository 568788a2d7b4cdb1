"""The floor: DuckDB's PostgreSQL scanner copying the table to one Parquet file, as its own process.

The scanner extension is loaded from the `duckdb-extension-postgres-scanner` wheel on disk (no network).
Usage: duckdb_floor.py <libpq dsn> <table> <out.parquet>
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import duckdb_extension_postgres_scanner


def extension_path() -> Path:
    folder = Path(duckdb_extension_postgres_scanner.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    return folder / "postgres_scanner.duckdb_extension"


def main(dsn: str, table: str, out: str) -> None:
    connection = duckdb.connect()
    connection.execute(f"LOAD '{extension_path()}'")
    connection.execute("SELECT 1")
    dsn_literal = dsn.replace("'", "''")
    connection.execute(f"COPY (SELECT * FROM postgres_scan('{dsn_literal}', 'public', '{table}')) "
                       f"TO '{out}' (FORMAT parquet)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
