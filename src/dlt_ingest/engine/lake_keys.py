"""The lake's side of delete detection: the live keys of a job's history, in DuckDB.

A key is live when its latest version (the greatest completed load holding it) is no tombstone; the keys
this run extracts are the newest version of all. The versions of the load with the most rows (usually the
first) are joined with the latest versions of the others rather than grouped with them: grouping every key
is what a history of 5M keys costs most. DuckDB reads only the key columns and `_deleted_at` of
the history's completed files, keeps one row per live key with its canonical text, its hash and bucket (the same
as the source's SQL, see `sources/keys.py`), and answers per bucket. It runs with a memory limit and spills
to a folder in the job's working folder, so a large history never needs as much memory as it holds.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from dlt_ingest.destinations import TableFiles
from dlt_ingest.errors import SourceError
from dlt_ingest.sources.keys import (
    DUCKDB_MIX,
    HASH_DIGITS,
    HASH_MODULUS,
    TOMBSTONE_COLUMN,
    BucketDigest,
    Buckets,
    KeyColumn,
    duckdb_canonical,
    mix_expression,
    quote_duckdb,
)
from dlt_ingest.workbook.model import lake_name

MEMORY_LIMIT = "512MB"  # DuckDB spills beyond it (to the job's working folder)
_FILE_COLUMN = "__dlt_ingest_file"
_FOCUS = "/*focus*/"  # where `focus` narrows every version scan to some key ranges


def open_duckdb(spill: Path) -> Any:
    try:
        import duckdb
    except ImportError:
        raise SourceError("detect_deletes needs the duckdb package: pip install 'dlt-ingest[deletes]'") from None
    spill.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill),
                                        "preserve_insertion_order": False, "autoinstall_known_extensions": False,
                                        "autoload_known_extensions": False})  # nothing is ever downloaded
    connection.execute("SET enable_progress_bar = false")  # it would draw on the run's terminal
    return connection


def _hash_sql(column: str) -> str:
    return f"CAST('0x' || substr({column}, 1, {HASH_DIGITS}) AS UBIGINT)"


class LakeKeys:
    """The live keys of one job's table (`columns` name the key as the source does; the lake's Parquet
    names them the dlt way)."""

    def __init__(self, columns: Sequence[KeyColumn], spill: Path) -> None:
        self.columns = tuple(columns)
        self.spill = spill
        self.db = open_duckdb(spill)
        self.lake = [KeyColumn(lake_name(c.name), c.kind, c.arrow) for c in self.columns]
        self.keys = ", ".join(quote_duckdb(c.name) for c in self.lake)
        empty = pa.schema([pa.field(c.name, c.arrow) for c in self.lake]).empty_table()
        self.db.register("empty_keys", empty)
        self.db.execute("CREATE TABLE run_keys AS SELECT * FROM empty_keys")
        self.db.unregister("empty_keys")
        self.earlier = 0  # live keys of earlier loads that this run did not extract
        self.buckets = Buckets()  # the buckets `load` cut
        self._digest: dict[str, BucketDigest] = {}
        self.earlier_by_bucket: dict[str, int] = {}  # per bucket, the live keys of earlier loads
        self._latest = ""  # the SQL of every key's latest version
        self._files: dict[str, Any] | None = None  # its parameters
        self._kept_all = False  # `live` holds every live key already
        self.remote = False

    def add_run_keys(self, batch: pa.Table) -> None:
        """Keys of a batch this run extracts (they are the newest version of their key)."""
        keys = batch.select([c.name for c in self.columns]).rename_columns([c.name for c in self.lake])
        self.db.register("batch_keys", keys)
        self.db.execute("INSERT INTO run_keys SELECT * FROM batch_keys")
        self.db.unregister("batch_keys")

    def _reach(self, history: TableFiles) -> None:
        """DuckDB reads a bucket's files through the destination's own fsspec filesystem."""
        if history.filesystem is not None and not self.remote:
            self.db.register_filesystem(history.filesystem)
            self.remote = True

    def run_rows(self) -> int:
        (rows,) = self.db.execute("SELECT count(*) FROM run_keys").fetchone() or (0,)
        return int(rows)

    def history_rows(self, history: TableFiles) -> int:
        """The rows of the history's files, from their footers (every version: at least the live keys)."""
        if not history.files:
            return 0
        self._reach(history)
        (rows,) = self.db.execute("SELECT sum(num_rows) FROM parquet_file_metadata($files)",
                                  {"files": [path for path, _ in history.files]}).fetchone() or (0,)
        return int(rows or 0)

    def prepare(self, history: TableFiles, buckets: Buckets) -> None:
        """The SQL of every key's latest version in the history's completed files and this run's keys."""
        self._reach(history)
        self.buckets = buckets
        order = sorted({load_id for _, load_id in history.files}, key=_load_order)
        rank = {load_id: number for number, load_id in enumerate(order, start=1)}
        run = len(order) + 1
        ranked = [(path, rank[load_id]) for path, load_id in history.files]
        big = self._biggest_load(ranked)
        small = [(path, number) for path, number in ranked if number != big]
        # every version as `v` = 2 * its load's rank + 1 for a tombstone: the greatest is the latest version
        versions = [f"SELECT {self.keys}, {2 * run} AS v FROM run_keys WHERE true{_FOCUS}"]
        if small:
            self.db.register("file_ranks", pa.table({_FILE_COLUMN: [path for path, _ in small],
                                                     "load_rank": [number for _, number in small]}))
            scan = f"read_parquet($small, filename = '{_FILE_COLUMN}', union_by_name = true)"
            versions.append(f"SELECT {self.keys}, 2 * load_rank + {self._gone([path for path, _ in small])} AS v FROM "
                            f"{scan} JOIN file_ranks USING ({_FILE_COLUMN}) WHERE {self._not_null()}{_FOCUS}")
        latest = f"SELECT {self.keys}, max(v) AS v FROM ({' UNION ALL '.join(versions)}) GROUP BY {self.keys}"
        self._files = {"small": [path for path, _ in small]} if small else {}
        if big is not None:  # the biggest load joins the others' latest versions instead of being grouped
            scan = "read_parquet($big, union_by_name = true)"
            self._files["big"] = [path for path, number in ranked if number == big]
            latest = (f"SELECT {self.keys}, greatest(coalesce(later.v, -1), coalesce(biggest.v, -1)) AS v FROM "
                      f"({latest}) AS later FULL OUTER JOIN (SELECT {self.keys}, {2 * big} + "
                      f"{self._gone(self._files['big'])} AS v FROM {scan} WHERE {self._not_null()}{_FOCUS}) "
                      f"AS biggest USING ({self.keys})")
        self._latest = (f"WITH latest AS (SELECT {self.keys}, v // 2 = {run} AS from_run FROM ({latest}) "
                        f"WHERE v % 2 = 0) ")

    def on_latest(self, select: str) -> Any:
        """Run `select`, which reads `latest` (the live keys `prepare` found and `from_run`)."""
        return self.db.execute(f"{self._latest.replace(_FOCUS, '')}{select}", self._files)

    def load(self, history: TableFiles, buckets: Buckets) -> int:
        """Digest the live keys of the history's completed files and this run's keys per bucket in one pass
        (by range it keeps none of them: `focus` then keeps the keys of the buckets that need a look); returns
        how many live keys earlier loads hold that this run did not extract (the only ones a tombstone can
        be for)."""
        self.prepare(history, buckets)
        live = f"({self._live(buckets)})"
        self._kept_all = not buckets.by_range  # an MD5 costs more than keeping it: the keys are kept in one pass
        if self._kept_all:
            self.db.execute(f"CREATE OR REPLACE TABLE live AS {self._latest.replace(_FOCUS, '')}SELECT * FROM {live}",
                            self._files)
        rows = self.db.execute(f"{'' if self._kept_all else self._latest.replace(_FOCUS, '')}SELECT b, count(*), "
                               f"sum(h), sum(f), count(*) FILTER (WHERE NOT from_run) FROM "
                               f"{'live' if self._kept_all else live} GROUP BY b",
                               None if self._kept_all else self._files).fetchall()
        self._digest = {str(b): BucketDigest.of_sums(n, [total], [1], mixed) for b, n, total, mixed, _ in rows}
        self.earlier_by_bucket = {str(b): int(earlier) for b, *_, earlier in rows}
        self.earlier = sum(self.earlier_by_bucket.values())
        return self.earlier

    def _not_null(self) -> str:
        return " AND ".join(f"{quote_duckdb(c.name)} IS NOT NULL" for c in self.lake)

    def _gone(self, paths: Sequence[str]) -> str:
        """1 for a tombstone, as an integer SQL expression over these files' rows."""
        described = self.db.execute("DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true)",
                                    {"files": list(paths)}).fetchall()
        has = TOMBSTONE_COLUMN in {row[0] for row in described}
        return f"CAST({quote_duckdb(TOMBSTONE_COLUMN)} IS NOT NULL AS INTEGER)" if has else "0"

    def _biggest_load(self, ranked: Sequence[tuple[str, int]]) -> int | None:
        """The rank of the load whose files hold the most rows (from their footers)."""
        if not ranked:
            return None
        rows = self.db.execute("SELECT file_name, num_rows FROM parquet_file_metadata($files)",
                               {"files": [path for path, _ in ranked]}).fetchall()
        by_path = dict(ranked)
        per_load: dict[int, int] = {}
        for path, count in rows:
            number = by_path.get(str(path))
            if number is not None:
                per_load[number] = per_load.get(number, 0) + int(count or 0)
        return max(per_load, key=lambda number: (per_load[number], number)) if per_load else ranked[-1][1]

    def focus(self, labels: Sequence[str] | None = None) -> None:
        """Keep the live keys of these buckets (of the buckets `load` cut; all keys when None) for the
        questions that follow, in a second pass over the same files that reads only their keys (by MD5, `load`
        kept them all)."""
        if self._kept_all:
            return
        latest, where = self._latest.replace(_FOCUS, ""), ""
        if labels is not None and self.buckets.by_range:
            self.db.register("focus_buckets", pa.table({"b": pa.array([int(b) for b in labels], pa.int64())}))
            latest = self._latest.replace(_FOCUS, f" AND (CAST({quote_duckdb(self.lake[0].name)} AS BIGINT) >> "
                                                  f"{int(self.buckets.shift or 0)}) IN (SELECT b FROM focus_buckets)")
        elif labels is not None:
            self.db.register("focus_buckets", pa.table({"b": pa.array(list(labels), pa.string())}))
            where = " WHERE b IN (SELECT b FROM focus_buckets)"
        self.db.execute(f"CREATE OR REPLACE TABLE live AS {latest}SELECT * FROM ({self._live(self.buckets)}){where}",
                        self._files)
        if labels is not None:
            self.db.unregister("focus_buckets")

    def _live(self, buckets: Buckets) -> str:
        """The live keys with their canonical text, hash, bucket and mix or MD5 digits."""
        canonical = duckdb_canonical(self.lake)
        if buckets.by_range:
            key = quote_duckdb(self.lake[0].name)
            return (f"SELECT {self.keys}, from_run, CAST({key} AS VARCHAR) AS c, CAST(CAST({key} AS HUGEINT) + "
                    f"CASE WHEN {key} < 0 THEN {HASH_MODULUS} ELSE 0 END AS UBIGINT) AS h, "
                    f"{mix_expression(f'CAST({key} AS BIGINT)', DUCKDB_MIX)} AS f, "
                    f"CAST({key} AS BIGINT) >> {int(buckets.shift or 0)} AS b "
                    f"FROM latest")
        digits = buckets.digits
        return (f"SELECT {self.keys}, from_run, c, {_hash_sql('m')} AS h, 0 AS f, "
                f"CAST('0x' || substr(m, {HASH_DIGITS + 1}, 8) AS UINTEGER) AS g, "
                f"substr(m, {HASH_DIGITS + 1}, {digits}) AS b "
                f"FROM (SELECT *, md5(c) AS m FROM (SELECT *, {canonical} AS c FROM latest))")

    def count(self) -> int:
        """The live keys `load` found."""
        return sum(d.rows for d in self._digest.values())

    def _bucket(self, buckets: Buckets) -> str:
        """The bucket of a live key in these buckets (the ones `load` cut, or others of the same kind)."""
        if buckets == self.buckets:
            return "CAST(b AS VARCHAR)" if buckets.by_range else "b"
        if buckets.by_range:
            return f"CAST(CAST({quote_duckdb(self.lake[0].name)} AS BIGINT) >> {int(buckets.shift or 0)} AS VARCHAR)"
        digits = buckets.digits
        return f"substr(lpad(lower(hex(g)), 8, '0'), 1, {digits})" if digits else "''"

    def digest(self, buckets: Buckets) -> dict[str, BucketDigest]:
        """Per bucket the digest of the live keys (the buckets `load` cut, or others of the same kind in one
        more pass)."""
        if buckets == self.buckets:
            return dict(self._digest)
        rows = self.db.execute(f"{self._latest.replace(_FOCUS, '')}SELECT b, count(*), sum(h), sum(f) FROM "
                               f"({self._live(buckets)}) "
                               f"GROUP BY b", self._files).fetchall()
        return {str(b): BucketDigest.of_sums(n, [total], [1], mixed) for b, n, total, mixed in rows}

    def earlier_keys_with_hash(self, buckets: Buckets, wanted: dict[str, tuple[int, int]]) -> list[tuple[str, str]]:
        """(bucket, canonical text) of earlier live keys whose hash and mix are what their bucket misses."""
        if not wanted:
            return []
        self.db.register("wanted", pa.table({"want_b": list(wanted),
                                             "want_h": pa.array([h for h, _ in wanted.values()], pa.uint64()),
                                             "want_f": pa.array([f for _, f in wanted.values()], pa.int64())}))
        rows = self.db.execute(f"SELECT want_b, c FROM live JOIN wanted ON {self._bucket(buckets)} = want_b AND "
                               f"h = want_h AND f = want_f WHERE NOT from_run").fetchall()
        self.db.unregister("wanted")
        return [(str(b), str(c)) for b, c in rows]

    def earlier_keys_in(self, buckets: Buckets, labels: Sequence[str]) -> list[str]:
        """Canonical texts of the earlier live keys in these buckets."""
        if not labels:
            return []
        self.db.register("buckets", pa.table({"b": pa.array(list(labels), pa.string())}))
        rows = self.db.execute(f"SELECT c FROM live WHERE NOT from_run AND {self._bucket(buckets)} IN "
                               f"(SELECT b FROM buckets)").fetchall()
        self.db.unregister("buckets")
        return [str(c) for (c,) in rows]

    def earlier_keys_outside(self, buckets: Buckets, labels: Sequence[str], limit: int) -> list[str]:
        """Up to `limit` earlier live keys of buckets not listed (buckets the source agrees with)."""
        self.db.register("buckets", pa.table({"b": pa.array(list(labels), pa.string())}))
        rows = self.db.execute(f"SELECT c FROM live WHERE NOT from_run AND {self._bucket(buckets)} NOT IN "
                               f"(SELECT b FROM buckets) LIMIT {int(limit)}").fetchall()
        self.db.unregister("buckets")
        return [str(c) for (c,) in rows]

    def add_source_texts(self, texts: Sequence[str]) -> None:
        """Canonical texts of keys the source holds (a scan of differing buckets)."""
        self.db.execute("CREATE TABLE IF NOT EXISTS source_texts (c VARCHAR)")
        self.db.register("batch_texts", pa.table({"c": pa.array(list(texts), pa.string())}))
        self.db.execute("INSERT INTO source_texts SELECT c FROM batch_texts")
        self.db.unregister("batch_texts")

    def not_in_source(self, texts: Sequence[str]) -> list[str]:
        """Those of `texts` that no scanned source key has."""
        self.db.execute("CREATE TABLE IF NOT EXISTS source_texts (c VARCHAR)")
        self.db.register("texts", pa.table({"c": pa.array(list(texts), pa.string())}))
        rows = self.db.execute("SELECT c FROM texts ANTI JOIN source_texts USING (c)").fetchall()
        self.db.unregister("texts")
        return [str(c) for (c,) in rows]

    def values_of(self, texts: Sequence[str]) -> list[tuple[Any, ...]]:
        """The key values (as the lake holds them) of these canonical texts, in their order."""
        table = self.key_table(texts)
        return list(zip(*(table.column(c.name).to_pylist() for c in self.lake), strict=True))

    def key_table(self, texts: Sequence[str]) -> pa.Table:
        """The keys of these canonical texts as an Arrow table of their lake types, named as the source does."""
        self.db.register("texts", pa.table({"c": list(texts), "i": list(range(len(texts)))}))
        table = self.db.execute(f"SELECT {self.keys} FROM live JOIN texts USING (c) ORDER BY i").to_arrow_table()
        self.db.unregister("texts")
        arrays = [table.column(c.name).cast(c.arrow) for c in self.lake]
        return pa.Table.from_arrays(arrays, names=[c.name for c in self.columns])

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.spill, ignore_errors=True)


def _load_order(load_id: str) -> tuple[int, str]:
    """dlt load ids are seconds since the epoch as text (`1770123857.12345`): ordered as numbers."""
    whole, _, fraction = load_id.partition(".")
    return (int(whole) if whole.isdigit() else 0, fraction.ljust(20, "0"))
