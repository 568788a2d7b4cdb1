"""The plain way to find deleted keys, for the benchmark to compare delete detection with: read every key of
the source (ADBC, Arrow: the fastest reader the product has) and anti-join it with the lake's live keys
(the same DuckDB code delete detection uses). Prints the number of live lake keys the source lacks and the
seconds that took (without starting Python and importing the libraries).

    python benchmarks/reread_keys.py <postgresql:// URI> <table> <lake folder of the source> <spill folder> \
        [bigint|uuid]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from dlt_ingest.destinations import TableFiles
from dlt_ingest.engine.lake_keys import LakeKeys
from dlt_ingest.sources.keys import Buckets, KeyColumn, KeyKind


def completed_files(dataset: Path, table: str) -> TableFiles:
    done = {p.name.split("__")[-1].rsplit(".", 1)[0] for p in (dataset / "_dlt_loads").glob("*.jsonl")}
    files = [(str(f), ".".join(f.name.split(".")[:2])) for f in (dataset / table).rglob("*.parquet")]
    return TableFiles([(path, load_id) for path, load_id in files if load_id in done])


def main(uri: str, table: str, dataset: Path, spill: Path, key: str) -> None:
    start = time.perf_counter()
    text = key == "uuid"
    lake = LakeKeys([KeyColumn("id", KeyKind.TEXT, pa.string()) if text else
                     KeyColumn("id", KeyKind.INTEGER, pa.int64())], spill)
    try:
        lake.prepare(completed_files(dataset, table), Buckets(digits=0) if text else Buckets(shift=63))
        with adbc.connect(uri) as connection, \
                connection.cursor() as cursor:
            cursor.execute(f"SELECT id::text AS id FROM {table}" if text else f"SELECT id FROM {table}")
            keys = cursor.fetch_arrow_table()
        lake.db.register("source_keys", keys)
        (missing,) = lake.on_latest("SELECT count(*) FROM latest ANTI JOIN source_keys USING (id)").fetchone() \
            or (0,)
        print(int(missing), f"{time.perf_counter() - start:.3f}")
    finally:
        lake.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "bigint")
