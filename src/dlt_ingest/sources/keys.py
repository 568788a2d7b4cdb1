"""A job's primary key as delete detection compares it: one canonical text per key that the source's SQL
and DuckDB over the lake print alike, its MD5, and what a source offers the comparison (`SourceKeys`).

Keys are cut into buckets (`Buckets`) that both sides cut alike. A key of one integer column is cut by
range: the bucket is the key shifted right by some bits, its hash the key itself (as a 64-bit number) and
its mix (`mix_terms`) a few bit operations on it, all plain integer arithmetic that every engine runs
alike and far faster than an MD5. Every other key is cut by the MD5 of its canonical text.

The canonical text depends on the key column's lake type only, so both sides agree whatever the source
calls the type:

- integers (and decimals of scale 0): the decimal digits, `-` for negatives;
- text: the value itself (hashed as UTF-8);
- dates: the days since 1970-01-01; timestamps: the microseconds since 1970-01-01 00:00:00 (UTC for a
  zoned one), both as integer digits.

A key of several columns joins its parts with `|`, each text part escaped (`\\` as `\\\\`, `|` as `\\|`),
so two different keys never print alike. The MD5 of that text, as 32 lower-case hex digits, gives the
key's 64-bit hash (hex digits 1-16, summed per bucket modulo 2^64 with each engine's exact arithmetic)
and its bucket (the next `digits` hex digits): no engine needs more than an MD5, a substring and a hex
number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import pyarrow as pa

TOMBSTONE_COLUMN = "_deleted_at"  # the tombstone's column: when the run found the key gone, NULL on every row
TOMBSTONE_TYPE = pa.timestamp("us", tz="UTC")
TOMBSTONE_HINT: dict[str, Any] = {"name": TOMBSTONE_COLUMN, "data_type": "timestamp", "precision": 6,
                                  "timezone": True, "nullable": True}
HASH_MODULUS = 2**64
HASH_DIGITS = 16  # hex digits 1..16 of the MD5 are the key's hash; the bucket's digits follow them
MIX_MASK = 2**31 - 1


class KeyKind(str, Enum):
    INTEGER = "integer"
    TEXT = "text"
    DATE = "date"
    TIMESTAMP = "timestamp"


def key_kind(arrow: pa.DataType) -> KeyKind | None:
    """How a key column of this lake type prints canonically; None for a type the comparison refuses
    (floats, booleans, bytes, times, decimals with a fraction)."""
    if pa.types.is_integer(arrow) or (pa.types.is_decimal(arrow) and arrow.scale == 0):
        return KeyKind.INTEGER
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return KeyKind.TEXT
    if pa.types.is_date32(arrow):
        return KeyKind.DATE
    if pa.types.is_timestamp(arrow) and arrow.unit == "us":
        return KeyKind.TIMESTAMP
    return None


@dataclass(frozen=True)
class KeyColumn:
    name: str
    kind: KeyKind
    arrow: pa.DataType  # the column's lake type


@dataclass(frozen=True)
class Buckets:
    """How both sides cut keys into buckets: by range (`shift` set, a key of one integer column: the bucket
    is the key shifted right by `shift` bits, 2^shift consecutive keys) or by the `digits` hex digits of the
    key's MD5 after its hash."""

    digits: int = 0
    shift: int | None = None

    @property
    def by_range(self) -> bool:
        return self.shift is not None

    def describe(self) -> str:
        return f"key ranges of {2 ** (self.shift or 0):,}" if self.by_range else "MD5"


def range_shift(low: int, high: int, buckets: int) -> int:
    """The fewest bits to shift so that keys from `low` to `high` fall into about `buckets` ranges or fewer."""
    width = -(-(high - low + 1) // max(buckets, 1))
    return min(max(width - 1, 0).bit_length(), 63)


def signed_bucket(label: int, shift: int) -> int:
    """A bucket an engine computed by shifting the key's unsigned 64 bits (MySQL) as an arithmetic shift gives it."""
    return label - 2 ** (64 - shift) if label >= 2 ** (63 - shift) else label


def unsigned_bucket(label: int, shift: int) -> int:
    """The inverse of `signed_bucket`: a bucket as an engine that shifts unsigned computes it."""
    return label + 2 ** (64 - shift) if label < 0 else label


@dataclass(frozen=True)
class MixSql:
    """One engine's integer operators ({x}, {y}: operands; {n}: bits) for `mix_expression`."""

    mask: str = "({x} & {y})"
    shift: str = "({x} >> {n})"
    xor: str = "({x} # {y})"


def mix_expression(key: str, ops: MixSql) -> str:
    """The key's mix in an engine's SQL: 31 bits made of its 64 with products and XORs, every step below
    2^62 (no engine overflows), so that keys swapped for others with the same count and sum still differ."""
    def low(x: str) -> str:
        return ops.mask.format(x=x, y=MIX_MASK)
    lo, hi, top = low(key), low(ops.shift.format(x=key, n=31)), ops.mask.format(x=ops.shift.format(x=key, n=62), y=3)
    a = low(f"({lo} * 1103515245 + {hi} * 7 + {top})")
    b = low(f"({ops.xor.format(x=lo, y=hi)} * 1664525 + {top} + 1013904223)")
    return low(ops.shift.format(x=f"({a} * {b})", n=20))


def mix(key: int) -> int:
    """`mix_expression` in Python (the tests hold the engines to it)."""
    lo, hi, top = key & MIX_MASK, (key >> 31) & MIX_MASK, (key >> 62) & 3
    a = (lo * 1103515245 + hi * 7 + top) & MIX_MASK
    b = ((lo ^ hi) * 1664525 + top + 1013904223) & MIX_MASK
    return ((a * b) >> 20) & MIX_MASK


@dataclass(frozen=True)
class BucketDigest:
    """The keys of one bucket: how many, the sum of their 64-bit hashes modulo 2^64 and, for range buckets,
    the sum of their mixes (0 for MD5 buckets)."""

    rows: int
    hash: int
    mix: int = 0

    @classmethod
    def of_sums(cls, rows: int, sums: Sequence[Any], weights: Sequence[int], mixed: Any = 0) -> BucketDigest:
        """From an engine's exact sums of the numbers the hashes are made of (the hash itself, weight 1, or
        its upper and lower 32 bits, weights 2^32 and 1)."""
        total = sum(int(value or 0) * weight for value, weight in zip(sums, weights, strict=True))
        return cls(int(rows), total % HASH_MODULUS, int(mixed or 0))


class SourceKeys(Protocol):
    """The source's side of delete detection for one job's table (its rows with a non-NULL watermark)."""

    @property
    def columns(self) -> tuple[KeyColumn, ...]: ...

    @property
    def lake_schema(self) -> pa.Schema:
        """The history table's columns in their lake types (a tombstone has them all, NULL but the key)."""
        ...

    @property
    def by_range(self) -> bool:
        """Whether the key can be cut by range (one integer column, on an engine with the bit operators)."""
        ...

    def key_range(self) -> tuple[int, int] | None:
        """The least and greatest key of a key cut by range (None for an empty table)."""
        ...

    def digest(self, buckets: Buckets) -> dict[str, BucketDigest]:
        """One scan of the table: per bucket its digest."""
        ...

    def present(self, keys: Sequence[tuple[Any, ...]]) -> set[str]:
        """Which of these keys (values in their lake types) the source holds now, by primary key lookups:
        the canonical texts of the rows found."""
        ...

    def scan(self, buckets: Buckets, labels: Sequence[str] | None) -> Iterator[list[str]]:
        """The canonical text of every source key in these buckets (all keys when None), in batches."""
        ...


def _duckdb_part(column: KeyColumn, escaped: bool) -> str:
    name = quote_duckdb(column.name)
    if column.kind is KeyKind.INTEGER:
        return f"CAST(CAST({name} AS HUGEINT) AS VARCHAR)"
    if column.kind is KeyKind.DATE:
        return f"CAST(date_diff('day', DATE '1970-01-01', {name}) AS VARCHAR)"
    if column.kind is KeyKind.TIMESTAMP:
        return f"CAST(epoch_us({name}) AS VARCHAR)"
    text = f"CAST({name} AS VARCHAR)"
    return f"replace(replace({text}, '\\', '\\\\'), '|', '\\|')" if escaped else text


DUCKDB_MIX = MixSql(xor="xor({x}, {y})")


def duckdb_canonical(columns: Sequence[KeyColumn]) -> str:
    """The canonical text of a key in DuckDB's SQL, over columns named as the key's lake columns."""
    parts = [_duckdb_part(column, len(columns) > 1) for column in columns]
    return parts[0] if len(parts) == 1 else " || '|' || ".join(parts)


def quote_duckdb(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
