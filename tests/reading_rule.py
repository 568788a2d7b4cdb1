"""The documented way to read the lake (docs/reliability.md), for fault tests on local disk and Azurite.

A load counts only when `<dataset>/_dlt_loads/<pipeline>__<load_id>.jsonl` exists; a data file belongs to the
load whose id starts its name (`<load_id>.<file_id>.parquet`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lake_backends import AzuriteLake, LocalLake


def file_load_id(relative_path: str) -> str:
    return ".".join(relative_path.rsplit("/", 1)[-1].split(".")[:2])


def completed_load_ids(lake: Any, dataset: str) -> set[str]:
    """Load ids that have a completion record (the file name is `<pipeline>__<load_id>.jsonl`)."""
    if isinstance(lake, LocalLake):
        names = [p.name for p in (lake.root / dataset / "_dlt_loads").glob("*.jsonl")]
    else:
        lake.fs.invalidate_cache()
        folder = f"{lake.base}/{dataset}/_dlt_loads"
        names = [p.rsplit("/", 1)[-1] for p in lake.fs.find(folder)] if lake.fs.exists(folder) else []
    return {name.split("__")[-1].rsplit(".", 1)[0] for name in names if name.endswith(".jsonl")}


def _read_file(lake: Any, relative: str) -> pa.Table:
    if isinstance(lake, AzuriteLake):
        with lake.fs.open(f"{lake.base}/{relative}", "rb") as handle:
            return pq.read_table(handle)
    return pq.read_table(lake.root / relative)


def read_completed(lake: Any, dataset: str, table: str) -> pa.Table | None:
    """Every row of the table's completed loads; None when there is none."""
    done = completed_load_ids(lake, dataset)
    files = [f for f in lake.files(dataset, table) if file_load_id(f) in done]
    if not files:
        return None
    return pa.concat_tables([_read_file(lake, f) for f in files], promote_options="default")


def orphan_files(lake: Any, dataset: str, table: str) -> list[str]:
    """Data files of loads that never completed (what a naive reader would count twice)."""
    done = completed_load_ids(lake, dataset)
    return [f for f in lake.files(dataset, table) if file_load_id(f) not in done]


def checksum(rows: list[tuple[Any, ...]]) -> str:
    """Order-independent digest of (primary key, payload) rows."""
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update(repr(row).encode())
    return digest.hexdigest()


def lake_rows(table: pa.Table | None, *columns: str) -> list[tuple[Any, ...]]:
    if table is None:
        return []
    return list(zip(*(table[c].to_pylist() for c in columns), strict=True))


def documented_live_rows_sql() -> str:
    """The SQL of docs/reliability.md that reads an INCREMENTAL table's live rows (tombstones left out)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    return next(block for block in blocks if "_deleted_at IS NULL" in block)


def live_rows(lake_root: Path, dataset: str, table: str, keys: Sequence[str], watermark: str) -> pa.Table:
    """The live rows of a local lake's table by the documented query, as written there (for demo.orders)."""
    partition = "PARTITION BY " + ", ".join(f'"{key}"' for key in keys)
    sql = (documented_live_rows_sql().replace("'lake/demo/", f"'{lake_root.as_posix()}/{dataset}/")
           .replace("/orders/", f"/{table}/").replace("PARTITION BY id", partition)
           .replace("updated_at DESC", f"{watermark} DESC"))
    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        return connection.sql(sql).to_arrow_table()
    finally:
        connection.close()


def live_key_values(lake: Any, dataset: str, table: str, key: str) -> set[Any]:
    """The keys of the live rows, by the same rule in Python (local disk or Azurite): per key the version of
    the greatest completed load, left out when it is a tombstone (`_deleted_at` set)."""
    done = completed_load_ids(lake, dataset)
    latest: dict[Any, tuple[float, bool]] = {}
    for relative in lake.files(dataset, table):
        load_id = file_load_id(relative)
        if load_id not in done:
            continue
        rows = _read_file(lake, relative)
        gone = rows["_deleted_at"].is_valid().to_pylist() if "_deleted_at" in rows.column_names else [False] * len(rows)
        for value, deleted in zip(rows[key].to_pylist(), gone, strict=True):
            order = float(load_id)
            if value not in latest or latest[value][0] < order or (latest[value][0] == order and deleted):
                latest[value] = (order, deleted)
    return {value for value, (_, deleted) in latest.items() if not deleted}
