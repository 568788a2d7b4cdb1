"""The source's side of delete detection in each dialect's SQL: the canonical text of a key (see
`sources/keys.py`), its digest per bucket in one scan (by key range for a key of one integer column where
the dialect has the bit operators, by MD5 otherwise), lookups by primary key, and a scan of the keys of
some buckets. PostgreSQL, MySQL/MariaDB and SQLite run in the tests; Oracle and SQL Server are compiled
only (their SQL follows each one's documentation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

from dlt_ingest.errors import RowMismatch
from dlt_ingest.sources.keys import (
    HASH_DIGITS,
    TOMBSTONE_COLUMN,
    BucketDigest,
    Buckets,
    KeyColumn,
    KeyKind,
    MixSql,
    key_kind,
    mix_expression,
    signed_bucket,
    unsigned_bucket,
)
from dlt_ingest.sources.sql.contract import TableContract, read_expression
from dlt_ingest.sources.sql.types import Read
from dlt_ingest.workbook.model import Job

LOOKUP_BATCH = 500  # keys per lookup query
SCAN_BATCH = 50_000
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class KeySql:
    """How one dialect prints a key canonically, hashes it and cuts hex digits ({c}: a column, {t}: text)."""

    kinds: dict[KeyKind, str]  # the canonical text of one key part, per kind this dialect supports
    md5: str
    hash_parts: tuple[tuple[str, int], ...]  # numbers from the MD5 {m} whose exact sums, times the weights,
    # add up to the sum of the keys' 64-bit hashes (modulo 2^64; a signed 64-bit number is the same hash)
    substr: str  # {t}, {start}, {length}
    escape: str  # a text part of a composite key with `\\` and `|` escaped
    join: Callable[[list[str]], str]
    tuple_in: bool = True  # `(a, b) IN ((..), (..))` works
    fence: bool = False  # the MD5 is computed in a subquery the planner must not inline (OFFSET 0)
    session: tuple[str, ...] = ()  # statements before the digest ({mb}: the memory its aggregate needs)
    mix: MixSql | None = None  # the integer operators of range buckets; None: every key is cut by MD5
    integer: str = "{k}"  # an integer key as the 64-bit number the range buckets shift and mix
    key_sums: tuple[tuple[str, int], ...] = (("{k}", 1),)  # numbers from the key {k} whose exact sums, times
    # the weights, add up to the sum of the keys (modulo 2^64)
    unsigned_shift: bool = False  # `>>` shifts the key's unsigned 64 bits (MySQL): buckets of negative keys
    # are numbered 2^(64 - shift) higher


def _infix(separator: str) -> Callable[[list[str]], str]:
    return lambda parts: f" {separator} '|' {separator} ".join(parts)


_POSTGRES = KeySql(
    {KeyKind.INTEGER: "CAST({c} AS TEXT)", KeyKind.TEXT: "concat({c})",
     KeyKind.DATE: "CAST(({c} - DATE '1970-01-01') AS TEXT)",
     KeyKind.TIMESTAMP: "CAST(CAST(EXTRACT(EPOCH FROM {c}) * 1000000 AS BIGINT) AS TEXT)"},
    "md5({t})", (("CAST(CAST('x' || substr({m}, 1, 16) AS BIT(64)) AS BIGINT)", 1),),
    "substr({t}, {start}, {length})", "replace(replace({t}, '\\', '\\\\'), '|', '\\|')", _infix("||"),
    fence=True,  # inlined, the MD5 would run once per use; the scan under the fence may still run in parallel
    session=("SET LOCAL work_mem = '{mb}MB'", "SET LOCAL parallel_setup_cost = 0",
             "SET LOCAL parallel_tuple_cost = 0",
             "SET LOCAL jit = off",  # its compilation cost ~0.35 s of the ~4 s a 5M-key MD5 digest takes
             "SET LOCAL enable_sort = off"),  # it counts a group per key for `id >> 8` and would sort 5M rows
    mix=MixSql(), integer="CAST({k} AS BIGINT)")  # int4 >> 62 is undefined in C: shifted as bigint
_MYSQL = KeySql(  # CHAR(92 USING utf8mb4) is a backslash whatever NO_BACKSLASH_ESCAPES says
    {KeyKind.INTEGER: "CAST({c} AS CHAR)", KeyKind.TEXT: "CAST({c} AS CHAR CHARACTER SET utf8mb4)",
     KeyKind.DATE: "CAST(DATEDIFF({c}, '1970-01-01') AS CHAR)",
     KeyKind.TIMESTAMP: "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {c}) AS CHAR)"},
    "MD5({t})", (("CAST(CONV(SUBSTRING({m}, 1, 16), 16, 10) AS UNSIGNED)", 1),), "SUBSTRING({t}, {start}, {length})",
    "REPLACE(REPLACE({t}, CHAR(92 USING utf8mb4), CONCAT(CHAR(92 USING utf8mb4), CHAR(92 USING utf8mb4))), '|', "
    "CONCAT(CHAR(92 USING utf8mb4), '|'))", lambda parts: "CONCAT(" + ", '|', ".join(parts) + ")",
    mix=MixSql(xor="({x} ^ {y})"), unsigned_shift=True)
_SQLITE = KeySql(  # the functions are registered on every connection (`register_sqlite_functions`)
    {KeyKind.INTEGER: "CAST({c} AS TEXT)", KeyKind.TEXT: "CAST({c} AS TEXT)", KeyKind.DATE: "dlt_ingest_days({c})",
     KeyKind.TIMESTAMP: "dlt_ingest_micros({c})"},
    "dlt_ingest_md5({t})", (("dlt_ingest_hex(substr({m}, 1, 8))", 2**32), ("dlt_ingest_hex(substr({m}, 9, 8))", 1)),
    "substr({t}, {start}, {length})",
    "replace(replace({t}, '\\', '\\\\'), '|', '\\|')", _infix("||"),
    mix=MixSql(xor="(({x} | {y}) - ({x} & {y}))"),  # SQLite has no XOR; its sum() fails on an overflow
    key_sums=(("({k} >> 32)", 2**32), ("({k} & 4294967295)", 1)))
_ORACLE = KeySql(
    {KeyKind.INTEGER: "TO_CHAR({c})", KeyKind.TEXT: "TO_CHAR({c})"},
    "LOWER(RAWTOHEX(STANDARD_HASH({t}, 'MD5')))", (("TO_NUMBER(SUBSTR({m}, 1, 16), 'XXXXXXXXXXXXXXXX')", 1),),
    "SUBSTR({t}, {start}, {length})",
    "REPLACE(REPLACE({t}, '\\', '\\\\'), '|', '\\|')", _infix("||"), tuple_in=False)
_MSSQL = KeySql(  # the UTF-8 collation (SQL Server 2019) makes HASHBYTES see the text's UTF-8 bytes
    {KeyKind.INTEGER: "CAST({c} AS VARCHAR(40))", KeyKind.TEXT: "CAST({c} AS NVARCHAR(MAX))",
     KeyKind.DATE: "CAST(DATEDIFF(day, '1970-01-01', {c}) AS VARCHAR(20))",
     KeyKind.TIMESTAMP: "CAST(DATEDIFF_BIG(microsecond, '1970-01-01', {c}) AS VARCHAR(20))"},
    "LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', CAST(({t}) COLLATE Latin1_General_100_BIN2_UTF8 AS VARCHAR(MAX))), "
    "2))", (("CAST(CONVERT(BIGINT, CONVERT(VARBINARY(8), SUBSTRING({m}, 1, 16), 2)) AS DECIMAL(38, 0))", 1),),
    "SUBSTRING({t}, {start}, {length})",
    "REPLACE(REPLACE({t}, '\\', '\\\\'), '|', '\\|')", _infix("+"), tuple_in=False)
DIALECTS: dict[str, KeySql] = {"postgresql": _POSTGRES, "mysql": _MYSQL, "mariadb": _MYSQL, "sqlite": _SQLITE,
                               "oracle": _ORACLE, "mssql": _MSSQL}
_BINDS = {KeyKind.INTEGER: sa.BigInteger(), KeyKind.TEXT: sa.String(), KeyKind.DATE: sa.Date()}


def key_columns(job: Job, contract: TableContract) -> tuple[KeyColumn, ...]:
    """The job's primary key as the comparison sees it; a column it cannot compare exactly, or a column named
    like the tombstone's, is refused at the detect_deletes cell."""
    if TOMBSTONE_COLUMN in contract.lake_types:
        raise RowMismatch(f"{job.name}: table '{job.table_name}' has a column {TOMBSTONE_COLUMN}, which delete "
                          f"detection writes: exclude it (exclude_columns) or set detect_deletes to N",
                          "detect_deletes")
    supported = DIALECTS.get(contract.dialect)
    columns = []
    for name in job.primary_key:
        lake = contract.lake_types[name].arrow
        kind = key_kind(lake)
        if kind is None or supported is None or kind not in supported.kinds:
            kinds = ", ".join(k.value for k in supported.kinds) if supported else "none"
            raise RowMismatch(
                f"{job.name}: detect_deletes cannot compare primary key column {name} "
                f"({contract.column(name).source_type}, lake type {contract.lake_types[name].name}) exactly: "
                f"{contract.dialect} keys of these kinds can be compared: {kinds}; set detect_deletes to N",
                "detect_deletes")
        columns.append(KeyColumn(name, kind, lake))
    return tuple(columns)


class SqlKeys:
    """`SourceKeys` for one table on the job's engine; every failure reads like a failed read."""

    def __init__(self, engine: Engine, table: sa.Table, contract: TableContract, job: Job,
                 guard: Callable[[Callable[[], Any]], Any]) -> None:
        self.engine, self.table, self.contract, self.job, self._guard = engine, table, contract, job, guard
        self.columns = key_columns(job, contract)
        self.sql = DIALECTS[contract.dialect]
        self.lake_schema: pa.Schema = contract.schema()
        self.canonical = self._canonical()

    def _compiled(self, expression: Any) -> str:
        return str(expression.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))

    def _part(self, column: KeyColumn) -> str:
        contract = self.contract.column(column.name)
        source = self.table.c[column.name]
        read = contract.read if column.kind is KeyKind.INTEGER else Read.NATIVE  # e.g. MySQL BIT as unsigned
        text = self.sql.kinds[column.kind].format(c=self._compiled(read_expression(source, read,
                                                                                   self.contract.dialect)))
        return self.sql.escape.format(t=text) if column.kind is KeyKind.TEXT and len(self.columns) > 1 else text

    def _canonical(self) -> str:
        parts = [self._part(column) for column in self.columns]
        return parts[0] if len(parts) == 1 else self.sql.join(parts)

    def _rows(self, with_text: bool) -> Any:
        """The rows the comparison sees: every key part and the watermark set (a row with a NULL watermark
        can never be in the lake); the key's MD5 (`m`) and, `with_text`, its canonical text (`c`)."""
        selected = [sa.literal_column(self.sql.md5.format(t=self.canonical), sa.Text()).label("m")]
        if with_text:
            selected.append(sa.literal_column(self.canonical, sa.Text()).label("c"))
        return sa.select(*selected).select_from(self.table).where(*(c.isnot(None) for c in self._required()))

    def _required(self) -> list[Any]:
        required = [self.table.c[c.name] for c in self.columns]
        if self.job.watermark_column and self.job.watermark_column in self.table.c:
            required.append(self.table.c[self.job.watermark_column])
        return required

    def _cut(self, text: str, start: int, length: int) -> str:
        return self.sql.substr.format(t=text, start=start, length=length)

    @property
    def by_range(self) -> bool:
        """Whether the key is cut by range: one integer column that fits 64 signed bits, in a dialect with
        the bit operators."""
        if self.sql.mix is None or len(self.columns) != 1 or self.columns[0].kind is not KeyKind.INTEGER:
            return False
        arrow = self.columns[0].arrow
        return pa.types.is_signed_integer(arrow) or (pa.types.is_unsigned_integer(arrow) and arrow.bit_width <= 32)

    def _integer(self) -> str:
        return self.sql.integer.format(k=self._key_expression())

    def _key_expression(self) -> str:
        """The single key column as the read selects it."""
        (column,) = self.columns
        contract = self.contract.column(column.name)
        return self._compiled(read_expression(self.table.c[column.name], contract.read, self.contract.dialect))

    def key_range(self) -> tuple[int, int] | None:
        if not self.by_range:
            return None
        (column,) = self.columns
        plain = self.contract.column(column.name).read is Read.NATIVE  # min and max straight from the index
        key = self.table.c[column.name] if plain else sa.literal_column(self._integer(), sa.BigInteger())
        query = sa.select(sa.func.min(key), sa.func.max(key)).select_from(self.table)

        def run() -> tuple[Any, Any]:
            with self.engine.connect() as connection:
                return tuple(connection.execute(query).one())

        low, high = self._guard(run)
        return None if low is None or high is None else (int(low), int(high))

    def _bucket_label(self, buckets: Buckets, label: Any) -> str:
        if not buckets.by_range:
            return str(label or "")
        number = int(label)
        return str(signed_bucket(number, buckets.shift or 0) if self.sql.unsigned_shift else number)

    def digest_query(self, buckets: Buckets) -> Any:
        """Per bucket: the bucket, its keys, and the exact sums of the numbers its keys' hashes are made of
        (and, by range, of their mixes)."""
        if buckets.by_range:
            return self._range_digest_query(buckets.shift or 0)
        digits = buckets.digits
        inner = self._rows(with_text=False)
        rows = (inner.offset(0) if self.sql.fence else inner).subquery("k")
        sums = [sa.func.count().label("n"), *(sa.func.sum(sa.literal_column(part.format(m="k.m"), sa.Numeric()))
                                              for part, _ in self.sql.hash_parts)]
        if not digits:  # one bucket: no GROUP BY (an empty table gives one row of zero keys)
            return sa.select(sa.literal("").label("b"), *sums).select_from(rows)
        bucket = sa.literal_column(self._cut("k.m", HASH_DIGITS + 1, digits), sa.Text())
        return sa.select(bucket.label("b"), *sums).select_from(rows).group_by(bucket)

    def _range_rows(self) -> Any:
        """The rows the comparison sees, with the key as a 64-bit integer (`k`)."""
        key = sa.literal_column(self._integer(), sa.BigInteger()).label("k")
        return sa.select(key).select_from(self.table).where(*(c.isnot(None) for c in self._required()))

    def _range_digest_query(self, shift: int) -> Any:
        assert self.sql.mix is not None
        rows = self._range_rows().subquery("k")
        bucket = sa.literal_column(f"(k.k >> {int(shift)})", sa.BigInteger())
        sums = [sa.func.sum(sa.literal_column(part.format(k="k.k"), sa.Numeric())) for part, _ in self.sql.key_sums]
        mixed = sa.func.sum(sa.literal_column(mix_expression("k.k", self.sql.mix), sa.Numeric()))
        return sa.select(bucket.label("b"), sa.func.count().label("n"), *sums, mixed).select_from(rows) \
            .group_by(bucket)

    def digest(self, buckets: Buckets) -> dict[str, BucketDigest]:
        query = self.digest_query(buckets)
        parts = self.sql.key_sums if buckets.by_range else self.sql.hash_parts
        weights = [weight for _, weight in parts]
        memory = 64 if buckets.by_range else min(max(16**buckets.digits * 400 // 2**20, 16), 256)

        def run() -> dict[str, BucketDigest]:
            with self.engine.begin() as connection:
                for statement in self.sql.session:
                    connection.execute(sa.text(statement.format(mb=memory)))
                found = {}
                for b, n, *sums in connection.execute(query):
                    mixed = sums.pop() if buckets.by_range else 0
                    found[self._bucket_label(buckets, b)] = BucketDigest.of_sums(n, sums, weights, mixed)
                return found

        return dict(self._guard(run))

    def present_query(self, keys: Sequence[tuple[Any, ...]]) -> Any:
        """The canonical texts of the rows with these keys (values in their lake types), by the primary key."""
        columns = [sa.type_coerce(self.table.c[c.name], self._bind_type(c)) for c in self.columns]
        batch = [tuple(self._bind_value(c, v) for c, v in zip(self.columns, key, strict=True)) for key in keys]
        condition: Any
        if len(columns) == 1:
            condition = columns[0].in_([key[0] for key in batch])
        elif self.sql.tuple_in:
            condition = sa.tuple_(*columns).in_(batch)
        else:
            condition = sa.or_(*(sa.and_(*(c == v for c, v in zip(columns, key, strict=True))) for key in batch))
        return sa.select(sa.literal_column(self.canonical, sa.Text())).select_from(self.table).where(condition)

    def present(self, keys: Sequence[tuple[Any, ...]]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), LOOKUP_BATCH):
            query = self.present_query(keys[start:start + LOOKUP_BATCH])

            def run(query: Any = query) -> list[str]:
                with self.engine.connect() as connection:
                    return [str(text) for (text,) in connection.execute(query)]

            found.update(self._guard(run))
        return found

    def scan_query(self, buckets: Buckets, labels: Sequence[str] | None) -> Any:
        if buckets.by_range:  # no MD5: the canonical text straight from the table
            query = sa.select(sa.literal_column(self.canonical, sa.Text())).select_from(self.table) \
                .where(*(c.isnot(None) for c in self._required()))
            if labels is None:
                return query
            shift = buckets.shift or 0
            listed = ", ".join(str(self._engine_label(int(label), shift)) for label in labels) or "NULL"
            return query.where(sa.literal_column(f"({self._integer()} >> {int(shift)}) IN ({listed})"))
        rows = self._rows(with_text=True).subquery("k")
        query = sa.select(rows.c.c)
        if labels is not None and buckets.digits:
            wanted = sorted({b for b in labels if b and all(ch in "0123456789abcdef" for ch in b)})
            listed = ", ".join(f"'{b}'" for b in wanted) or "''"  # hex digits only: safe as literals
            bucket = self._cut("k.m", HASH_DIGITS + 1, buckets.digits)
            query = query.where(sa.literal_column(f"{bucket} IN ({listed})"))
        return query

    def _engine_label(self, label: int, shift: int) -> int:
        """A bucket number as this engine's `>>` computes it (integers only: safe as literals)."""
        return unsigned_bucket(label, shift) if self.sql.unsigned_shift else label

    def scan(self, buckets: Buckets, labels: Sequence[str] | None) -> Iterator[list[str]]:
        query = self.scan_query(buckets, labels)
        with self._guard(self.engine.connect) as connection:
            result = self._guard(lambda: connection.execution_options(stream_results=True, yield_per=SCAN_BATCH)
                                 .execute(query))
            partitions = result.partitions(SCAN_BATCH)
            while True:
                partition = self._guard(lambda: next(partitions, None))
                if partition is None:
                    return
                yield [str(text) for (text,) in partition]

    def _bind_type(self, column: KeyColumn) -> Any:
        if column.kind is KeyKind.TIMESTAMP:
            return sa.DateTime(timezone=bool(column.arrow.tz))
        return _BINDS[column.kind]

    def _bind_value(self, column: KeyColumn, value: Any) -> Any:
        """A lake value as the driver binds it for the source column."""
        if column.kind is KeyKind.INTEGER:
            return int(value)
        if column.kind is KeyKind.TIMESTAMP and isinstance(value, datetime) and value.tzinfo is not None \
                and self.contract.dialect in ("mysql", "mariadb", "sqlite"):
            return value.astimezone(timezone.utc).replace(tzinfo=None)  # a UTC session's wall clock
        return value


def _md5(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(str(text).encode("utf-8")).hexdigest()


def _hex(text: str | None) -> int | None:
    return None if text is None else int(text, 16)


_SQLITE_DIALECT = sqlite.dialect()
_SQLITE_DATE = sqlite.DATE().result_processor(_SQLITE_DIALECT, None)
_SQLITE_DATETIME = sqlite.DATETIME().result_processor(_SQLITE_DIALECT, None)


def _days(value: str | None) -> str | None:
    """A SQLite date as the read parses it (SQLAlchemy's SQLite DATE), in days since 1970-01-01."""
    parsed = _SQLITE_DATE(value) if value is not None and _SQLITE_DATE is not None else None
    return None if parsed is None else str((parsed - _EPOCH_DAY).days)


def _micros(value: str | None) -> str | None:
    """A SQLite timestamp as the read parses it (SQLAlchemy's SQLite DATETIME), in µs since 1970-01-01."""
    parsed = _SQLITE_DATETIME(value) if value is not None and _SQLITE_DATETIME is not None else None
    if parsed is None:
        return None
    moment = parsed - _EPOCH
    return str((moment.days * 86_400 + moment.seconds) * 1_000_000 + moment.microseconds)


def register_sqlite_functions(connection: Any, _record: Any = None) -> None:
    """SQLite has no MD5: the comparison's functions, on every connection of a SQLite source's engine."""
    for name, function in (("dlt_ingest_md5", _md5), ("dlt_ingest_hex", _hex), ("dlt_ingest_days", _days),
                           ("dlt_ingest_micros", _micros)):
        connection.create_function(name, 1, function, deterministic=True)
