"""The comparison's decisions when the digests name a key wrongly. Real data cannot make that happen on
purpose (the sums and the 31-bit mix of the keys swapped would all have to match), so the source here is a
stand-in whose digest says what such a coincidence would; the lake side is the real DuckDB code."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dlt_ingest.destinations import TableFiles
from dlt_ingest.engine.deletes import compare
from dlt_ingest.engine.lake_keys import LakeKeys
from dlt_ingest.sources.keys import BucketDigest, Buckets, KeyColumn, KeyKind, mix

KEYS = list(range(1, 257))  # two ranges of 128 (1..127 in range 0, 128..256 in ranges 1 and 2)
COLUMNS = (KeyColumn("id", KeyKind.INTEGER, pa.int64()),)


class CoincidentSource:
    """Holds `held`, but reports range 0 as if only `named` were missing from it."""

    columns = COLUMNS
    lake_schema = pa.schema([pa.field("id", pa.int64())])
    by_range = True

    def __init__(self, held: set[int], named: int) -> None:
        self.held, self.named = held, named

    def key_range(self) -> tuple[int, int] | None:
        return min(self.held), max(self.held)

    def digest(self, buckets: Buckets) -> dict[str, BucketDigest]:
        shift = buckets.shift or 0
        digest = digest_of(self.held, shift)
        bucket = str(self.named >> shift)  # what the coincidence shows: as if only `named` were gone
        digest[bucket] = digest_of({k for k in KEYS if k != self.named}, shift)[bucket]
        return digest

    def present(self, keys: Sequence[tuple[Any, ...]]) -> set[str]:
        return {str(key) for (key,) in keys if key in self.held}

    def scan(self, buckets: Buckets, labels: Sequence[str] | None) -> Iterator[list[str]]:
        yield [str(key) for key in sorted(self.held)]


def digest_of(keys: set[int], shift: int) -> dict[str, BucketDigest]:
    found: dict[str, list[int]] = {}
    for key in keys:
        found.setdefault(str(key >> shift), []).append(key)
    return {b: BucketDigest(len(ks), sum(ks) % 2**64, sum(mix(k) for k in ks)) for b, ks in found.items()}


def lake_of(tmp_path: Path) -> tuple[LakeKeys, TableFiles]:
    path = tmp_path / "1770000000.1.events.parquet"
    pq.write_table(pa.table({"id": pa.array(KEYS, pa.int64())}), path)
    return LakeKeys(COLUMNS, tmp_path / "spill"), TableFiles([(str(path), "1770000000.1")])


def test_a_range_whose_sums_name_a_key_the_source_holds_is_checked_key_by_key(tmp_path: Path) -> None:
    held = set(KEYS) - {3, 7}  # 3 and 7 are gone; the digest of their range says "5 is missing"
    lake, history = lake_of(tmp_path)
    try:
        result = compare(CoincidentSource(held, named=5), lake, history, len(KEYS))
    finally:
        lake.close()
    assert result.cut == Buckets(shift=7)
    assert sorted(result.deleted, key=int) == ["3", "7"]


def test_a_range_that_names_its_missing_key_costs_one_lookup(tmp_path: Path) -> None:
    lake, history = lake_of(tmp_path)
    try:
        result = compare(CoincidentSource(set(KEYS) - {5}, named=5), lake, history, len(KEYS))
    finally:
        lake.close()
    assert (result.deleted, result.looked_up, result.differing) == (["5"], 1, 1)
