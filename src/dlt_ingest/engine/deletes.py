"""Delete detection: after an INCREMENTAL job's extract, the keys the source holds compared with the keys the
lake holds as live, and a tombstone for each key that is gone, in the same load package.

The comparison is cheap on purpose (docs/reliability.md has the cost model). Both sides cut their keys
into the same buckets and sum the keys' hashes per bucket, the source in one scan of its own SQL, the lake
in DuckDB: a key of one integer column by ranges of the key (its hash is the key itself, plus a sum of
mixes of its bits), any other key by the MD5 of its canonical text. Only buckets whose count or sums
differ are looked at: a bucket that misses exactly one key names it by the difference of the sums; the
keys of the other differing buckets are checked one by one by primary key. A key is a tombstone only when
the source confirms it is gone; when too many keys would need checking, one scan of the differing
buckets' keys decides instead.

What keeps it exact under concurrent changes: only keys of earlier loads that this run did not extract can
become tombstones (a row inserted or re-read during the run never is), the lookups run after the extract
(a row deleted after its key was read is gone when it is looked up), and the tombstones travel in the
job's load package, so a run that dies leaves none and the next run finds the same deletes once.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.runtime import signals
from dlt.common.runtime.collector import Collector
from dlt.extract import DltResource, DltSource
from dlt.extract.extract import data_to_sources

from dlt_ingest.destinations import TableFiles
from dlt_ingest.engine.lake_keys import LakeKeys
from dlt_ingest.errors import SourceError
from dlt_ingest.sources.keys import (
    HASH_MODULUS,
    TOMBSTONE_COLUMN,
    TOMBSTONE_HINT,
    TOMBSTONE_TYPE,
    BucketDigest,
    Buckets,
    SourceKeys,
    range_shift,
)
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.job")

PROGRESS = "Delete detection"  # the name under which the comparison reports to dlt's progress collector
KEYS_PER_BUCKET = 128  # at most, on average: 16 more buckets for every 16 times more keys
LOOKUP_LIMIT = 50_000  # keys checked by primary key at most; beyond, one scan of the differing buckets
CANARIES = 3  # keys the source certainly holds, looked up with the others: none found means lookups fail
LIVE_KEYS = "dlt_ingest_live_keys"  # in the tombstone resource's state: how many keys the last run found live


def wants_deletes(job: Job, default: bool) -> bool:
    """The workbook cell, else the run's `[ingest] detect_deletes`, for INCREMENTAL jobs with a primary key."""
    wanted = job.detect_deletes if job.detect_deletes is not None else default
    return bool(wanted) and job.is_incremental and bool(job.primary_key)


def with_deletes_default(job: Job, default: bool, supported: bool) -> Job:
    """The job with its detect_deletes decided (a source without delete detection never gets the default)."""
    return replace(job, detect_deletes=supported and wants_deletes(job, default))


def bucket_digits(keys: int) -> int:
    """Hex digits of the bucket: the fewest that leave at most `KEYS_PER_BUCKET` keys per bucket on average."""
    digits = 0
    while keys > KEYS_PER_BUCKET * 16**digits:
        digits += 1
    return digits


def choose_buckets(source: SourceKeys, keys: int) -> Buckets:
    """Ranges of the key where the source can cut them (about `KEYS_PER_BUCKET` keys each if the keys are
    spread evenly between the least and the greatest), MD5 digits otherwise."""
    if not source.by_range:
        return Buckets(digits=bucket_digits(keys))
    bounds = source.key_range()
    if bounds is None:  # the source holds no row: one range, every lake key is a candidate
        return Buckets(shift=63)
    return Buckets(shift=range_shift(*bounds, -(-keys // KEYS_PER_BUCKET)))


@dataclass
class Comparison:
    """What one comparison did, for the log."""

    keys: int = 0
    buckets: int = 0
    cut: Buckets = field(default_factory=Buckets)
    differing: int = 0
    looked_up: int = 0
    scanned: bool = False
    deleted: list[str] = field(default_factory=list)


def _nonempty(digest: dict[str, BucketDigest]) -> dict[str, BucketDigest]:
    return {bucket: d for bucket, d in digest.items() if d.rows}


def compare(source: SourceKeys, lake: LakeKeys, history: TableFiles, estimate: int,
            progress: Collector | None = None) -> Comparison:
    """The canonical texts of the lake's earlier live keys that the source no longer holds.

    `estimate` (about how many keys are live) sizes the buckets, so that the source's scan runs on its own
    thread while DuckDB reads the lake's keys."""
    result = Comparison(cut=choose_buckets(source, estimate))
    _report(progress, 1, "start")
    with ThreadPoolExecutor(1, thread_name_prefix="delete-detection") as pool:
        theirs = pool.submit(contextvars.copy_context().run, source.digest, result.cut)
        earlier = lake.load(history, result.cut)
        result.keys = lake.count()
        lake_digest = _nonempty(lake.digest(result.cut)) if earlier else {}
        _report(progress, result.keys, "lake keys")
        source_digest = _nonempty(theirs.result())
    signals.raise_if_signalled()  # Ctrl-C during the scans: stop before any lookup
    _report(progress, sum(d.rows for d in source_digest.values()), "source keys")
    if not earlier:
        return result
    buckets = lake_digest.keys() | source_digest.keys()
    result.buckets = len(buckets)
    differing = sorted(b for b in buckets if lake_digest.get(b) != source_digest.get(b))
    result.differing = len(differing)
    if differing:
        lake.focus([*differing, *_canary_buckets(lake, set(differing))])
        _settle(source, lake, differing, lake_digest, source_digest, result)
    _report(progress, max(result.looked_up, 1), "keys checked")
    return result


def _settle(source: SourceKeys, lake: LakeKeys, differing: list[str], lake_digest: dict[str, BucketDigest],
            source_digest: dict[str, BucketDigest], result: Comparison) -> None:
    """Which earlier keys of the differing buckets the source lacks: a bucket missing exactly one key names
    it, the others' keys are looked up; beyond `LOOKUP_LIMIT` keys one scan of the buckets decides."""
    cut = result.cut
    empty = BucketDigest(0, 0)
    missing_one = {}
    for bucket in differing:
        ours, theirs = lake_digest.get(bucket, empty), source_digest.get(bucket, empty)
        if ours.rows - theirs.rows == 1:
            missing_one[bucket] = ((ours.hash - theirs.hash) % HASH_MODULUS, ours.mix - theirs.mix)
    named: dict[str, list[str]] = {}
    for bucket, text in lake.earlier_keys_with_hash(cut, missing_one):
        named.setdefault(bucket, []).append(text)
    single = {bucket: texts[0] for bucket, texts in named.items() if len(texts) == 1}
    candidates = list(single.values()) + lake.earlier_keys_in(cut, [b for b in differing if b not in single])
    if len(candidates) > LOOKUP_LIMIT:
        result.scanned = True
        scan_all = len(differing) * 2 > max(result.buckets, 1)
        for batch in source.scan(cut, None if scan_all else differing):
            lake.add_source_texts(batch)
        result.deleted = lake.not_in_source(lake.earlier_keys_in(cut, differing))  # every key of those buckets
        return
    if not candidates:
        return
    result.looked_up = len(candidates)
    result.deleted = _looked_up(source, lake, candidates, cut, differing)
    gone, singles = set(result.deleted), set(single.values())
    named_but_present = [b for b, text in single.items() if text not in gone]
    if named_but_present:  # the sums named a key the source holds: the bucket differs otherwise, check it all
        others = [text for text in lake.earlier_keys_in(cut, named_but_present) if text not in singles]
        result.looked_up += len(others)
        result.deleted += _looked_up(source, lake, others, cut, differing) if others else []


def _canary_buckets(lake: LakeKeys, differing: set[str]) -> list[str]:
    """A few buckets the source agrees with that hold keys of earlier loads, spread over the key range."""
    agreeing = sorted(b for b, earlier in lake.earlier_by_bucket.items() if earlier and b not in differing)
    return agreeing[::max(len(agreeing) // CANARIES, 1)][:CANARIES]


def _looked_up(source: SourceKeys, lake: LakeKeys, candidates: list[str], cut: Buckets,
               differing: list[str]) -> list[str]:
    """Candidates the source does not hold, by primary key; keys from matching buckets go along as canaries."""
    canaries = lake.earlier_keys_outside(cut, differing, CANARIES)
    present = source.present(lake.values_of([*candidates, *canaries]))
    if canaries and not present & set(canaries):
        raise SourceError(
            f"delete detection looked up {len(canaries)} key(s) the source holds and found none of them: the "
            f"primary key lookup cannot be trusted for these key types, so no tombstone was written; set "
            f"detect_deletes to N for this row and report it")
    return [text for text in candidates if text not in present]


def _report(progress: Collector | None, count: int, label: str) -> None:
    if progress is not None:
        progress.update(PROGRESS, inc=max(count, 1), label=label)


def tombstone_resource(job: Job) -> str:
    return f"{job.lake_table}_tombstones"


def recorded_live_keys(pipeline_state: Mapping[str, Any], job: Job) -> int | None:
    """The live keys the job's last comparison counted (kept in its tombstone resource's state)."""
    for source_state in pipeline_state.get("sources", {}).values():
        found = source_state.get("resources", {}).get(tombstone_resource(job), {}).get(LIVE_KEYS)
        if isinstance(found, int):
            return found
    return None


def tombstones(schema: pa.Schema, keys: pa.Table, deleted_at: datetime) -> pa.Table:
    """A history row per deleted key: the key, `_deleted_at`, every other column NULL in its lake type."""
    rows = keys.num_rows
    arrays = [keys.column(f.name) if f.name in keys.column_names else pa.nulls(rows, f.type) for f in schema]
    fields = [*schema, pa.field(TOMBSTONE_COLUMN, TOMBSTONE_TYPE)]
    return pa.Table.from_arrays([*arrays, pa.array([deleted_at] * rows, TOMBSTONE_TYPE)], schema=pa.schema(fields))


class DeleteDetection:
    """One job's delete detection: it watches the incremental extract's batches and then yields the tombstones."""

    def __init__(self, job: Job, keys: SourceKeys, history: TableFiles, spill: Path, deleted_at: datetime,
                 progress: Collector | None = None, recorded: int | None = None) -> None:
        self.job, self.keys, self.history, self.deleted_at, self.progress = job, keys, history, deleted_at, progress
        self.recorded = recorded  # the live keys the last comparison counted, if it recorded them
        self.lake = LakeKeys(keys.columns, spill)
        self.rows_deleted = 0

    def watch(self, item: Any) -> Any:
        """Every batch of the incremental read: its keys are this run's, and it gets a NULL `_deleted_at`."""
        if isinstance(item, pa.RecordBatch):
            item = pa.Table.from_batches([item])
        if not isinstance(item, pa.Table):
            raise SourceError(f"{self.job.name}: detect_deletes needs a read that yields Arrow batches, not "
                              f"{type(item).__name__}: choose another backend for this row")
        if self.history.files:  # without an earlier load there is nothing to compare them with
            self.lake.add_run_keys(item)
        return item.append_column(pa.field(TOMBSTONE_COLUMN, TOMBSTONE_TYPE), pa.nulls(item.num_rows, TOMBSTONE_TYPE))

    def tombstone_rows(self) -> Iterator[pa.Table]:
        """Runs once the incremental resource is extracted (it is in an earlier source of the same package)."""
        if not self.history.files:
            log.info("%s: delete detection: the lake holds no earlier load, nothing to compare", self.job.name)
            return
        clock = time.monotonic()
        estimate = (self.recorded if self.recorded is not None else self.lake.history_rows(self.history)) \
            + self.lake.run_rows()
        comparison = compare(self.keys, self.lake, self.history, estimate, self.progress)
        self.rows_deleted = len(comparison.deleted)
        dlt.current.resource_state()[LIVE_KEYS] = comparison.keys - self.rows_deleted  # sizes the next buckets
        how = ("one scan of their keys" if comparison.scanned else
               f"{comparison.looked_up:,} key(s) looked up" if comparison.looked_up else "nothing to look up")
        log.info("%s: delete detection: %s live key(s) in %s bucket(s) by %s, %s differing, %s; %s deleted "
                 "(%.1fs)", self.job.name, f"{comparison.keys:,}", f"{comparison.buckets:,}",
                 comparison.cut.describe(), f"{comparison.differing:,}", how, f"{self.rows_deleted:,}",
                 time.monotonic() - clock)
        if comparison.deleted:
            yield tombstones(self.keys.lake_schema, self.lake.key_table(comparison.deleted), self.deleted_at)

    def sources(self, pipeline: dlt.Pipeline, data: DltResource | DltSource, hints: dict[str, Any],
                fork: Any = None) -> list[DltSource]:
        """The package's two sources: the incremental read (and its fork) first, then the tombstones (and
        theirs): dlt extracts them one after the other into one load package."""
        job = self.job
        resource = data if isinstance(data, DltResource) else data.resources[job.lake_table]
        resource.apply_hints(write_disposition="append")  # `_deleted_at` comes with the batches (`watch`)
        resource.add_map(self.watch)
        columns: Any = {**hints, TOMBSTONE_COLUMN: TOMBSTONE_HINT}
        deleted = dlt.resource(self.tombstone_rows(), name=tombstone_resource(job), table_name=job.lake_table,
                               write_disposition="append", primary_key=list(job.primary_key), columns=columns)
        first: list[DltResource] = [resource]
        second: list[DltResource] = [deleted]
        if fork is not None:
            first.append(fork(resource, f"{job.lake_table}_current"))
            second.append(fork(deleted, f"{job.lake_table}_current_tombstones"))
        return [*data_to_sources(first, pipeline), *data_to_sources(second, pipeline)]

    def close(self) -> None:
        self.lake.close()
