"""Delete detection on a real PostgreSQL and a real MariaDB: deletes anywhere in the key range become tombstones
once, the live rows read from the lake by the documented query equal the source after every run, the
`_current` table drops them, composite keys of every kind compare exactly, re-inserted rows come back, and
changes made while a run compares are neither lost nor turned into tombstones."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

import dlt_ingest
from conftest import Project
from dlt_ingest.destinations import TableFiles
from dlt_ingest.engine.lake_keys import LakeKeys
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.sources import REGISTRY
from dlt_ingest.sources.keys import BucketDigest, Buckets, mix
from dlt_ingest.sources.sql.keys import SqlKeys
from dlt_ingest.workbook.model import Job, LoadType
from observers import ChangeSourceAtComparison
from reading_rule import file_load_id, live_rows

KEYS = 2_000
LATER = 10**8  # seconds: rows changed this much after their id's second are newer than any touched row
SOURCE = "src"


@dataclass
class Database:
    """The server under test, behind the few statements the tests need in its own SQL."""

    kind: str  # the workbook's source_type
    server: Any

    def execute(self, *statements: str | tuple[str, Any]) -> None:
        if self.kind == "mysql":
            self.server.execute(*statements)
            return
        with self.server.connect() as connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(*statement) if isinstance(statement, tuple) else cursor.execute(statement)

    def rows(self, statement: str) -> list[tuple[Any, ...]]:
        if self.kind == "mysql":
            return self.server.query(statement)
        with self.server.connect() as connection, connection.cursor() as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall())

    def create_events(self, table: str, first: int = 1, last: int = KEYS) -> None:
        if self.kind == "mysql":
            self.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, payload VARCHAR(100), "
                         f"updated_at DATETIME(6) NOT NULL) CHARACTER SET utf8mb4")
        else:
            self.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, payload text, updated_at timestamp NOT NULL)")
        self.add_events(table, first, last)

    def add_events(self, table: str, first: int, last: int, seconds: int = 0) -> None:
        """Rows first..last, each changed `seconds` after its id's second of 2024."""
        if self.kind == "mysql":
            self.execute(f"INSERT INTO {table} SELECT seq, CONCAT('event-', seq), "
                         f"TIMESTAMPADD(SECOND, seq + {seconds}, '2024-01-01') FROM seq_{first}_to_{last}")
        else:
            self.execute(f"INSERT INTO {table} SELECT i, 'event-' || i, timestamp '2024-01-01' + (i + {seconds}) * "
                         f"interval '1 second' FROM generate_series({first}, {last}) i")

    def touch(self, table: str, where: str, payload: str) -> None:
        """A later version of some rows (a newer watermark than any row has)."""
        later = "TIMESTAMPADD(DAY, 400, updated_at)" if self.kind == "mysql" else "updated_at + interval '400 days'"
        self.execute(f"UPDATE {table} SET payload = '{payload}', updated_at = {later} WHERE {where}")


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    if request.param == "postgresql":
        from services.postgres import fresh_database as fresh_pg

        with fresh_pg(request.getfixturevalue("postgres"), "deletes") as database:
            yield Database("postgresql", database)
    else:
        from services.mariadb import fresh_database as fresh_maria

        with fresh_maria(request.getfixturevalue("mariadb"), "deletes") as database:
            yield Database("mysql", database)


def new_table() -> str:
    return f"events_{uuid.uuid4().hex[:8]}"


def job_row(db: Database, table: str, **extra: Any) -> dict[str, Any]:
    return {"source_type": db.kind, "source_name": SOURCE, "table_name": table, "load_type": "INCREMENTAL",
            "watermark_column": "updated_at", "primary_key": "id", "detect_deletes": "Y", "current_table": "Y",
            "enabled": "Y", **extra}


def start(project: Project, db: Database, rows: list[dict[str, Any]]) -> None:
    project.append_config(db.server.secrets_toml(SOURCE), "secrets.toml")
    project.write_workbook(rows)


def run(project: Project) -> dict[str, str]:
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert db_password(project) not in result.output
    return project.audit_rows()[-1]


def db_password(project: Project) -> str:
    secrets = (project.path / ".dlt" / "secrets.toml").read_text(encoding="utf-8")
    return next(line.split("=", 1)[1].strip().strip('"') for line in secrets.splitlines()
                if line.startswith("password"))


def tombstone_count(project: Project, table: str) -> int:
    history = project.read_lake(SOURCE, table)
    return 0 if "_deleted_at" not in history.column_names else len(history) - history["_deleted_at"].null_count


def assert_lake_is_the_source(project: Project, db: Database, table: str) -> None:
    """The live rows by the documented reading rule, and the `_current` table, hold exactly the source's rows."""
    source = {(int(i), p) for i, p in db.rows(f"SELECT id, payload FROM {table}")}
    live = live_rows(project.path / "lake", SOURCE, table, ["id"], "updated_at")
    assert set(zip(live["id"].to_pylist(), live["payload"].to_pylist(), strict=True)) == source
    assert live.num_rows == len(source)
    current = DeltaTable(str(project.path / "lake" / SOURCE / f"{table}_current")).to_pyarrow_table()
    assert set(zip(current["id"].to_pylist(), current["payload"].to_pylist(), strict=True)) == source


DELETES = {
    "in the middle": "id BETWEEN 500 AND 520 OR id = 1000",
    "at both ends of the key range": f"id IN (1, {KEYS})",
    "of every row": "id > 0",
    "of no row": "id < 0",
}


@pytest.mark.parametrize("where", DELETES.values(), ids=DELETES.keys())
def test_deleted_rows_become_tombstones_once_and_the_lake_equals_the_source(project: Project, db: Database,
                                                                            where: str) -> None:
    table = new_table()
    db.create_events(table)
    start(project, db, [job_row(db, table)])
    assert run(project)["rows_deleted"] == "0"
    (deleted,) = db.rows(f"SELECT count(*) FROM {table} WHERE {where}")[0]
    db.execute(f"DELETE FROM {table} WHERE {where}")

    row = run(project)
    assert (row["status"], row["rows_processed"], row["rows_deleted"]) == ("SUCCESS", "0", str(deleted))
    assert row["reconciliation"] == "MATCH"
    assert tombstone_count(project, table) == deleted
    assert_lake_is_the_source(project, db, table)

    again = run(project)
    assert (again["rows_processed"], again["rows_deleted"]) == ("0", "0")
    assert tombstone_count(project, table) == deleted  # found once
    assert db_password(project) not in project.all_output_text()


def test_a_deleted_row_that_is_inserted_again_comes_back(project: Project, db: Database) -> None:
    table = new_table()
    db.create_events(table)
    start(project, db, [job_row(db, table)])
    run(project)
    db.execute(f"DELETE FROM {table} WHERE id IN (10, 11)")
    assert run(project)["rows_deleted"] == "2"
    db.add_events(table, 10, 10, seconds=LATER)  # back, with a newer watermark than anything loaded
    db.execute(f"DELETE FROM {table} WHERE id = 12")
    db.add_events(table, 12, 12, seconds=LATER)  # deleted and inserted again between two runs: never gone

    row = run(project)
    assert (row["rows_processed"], row["rows_deleted"]) == ("2", "0")
    assert_lake_is_the_source(project, db, table)
    assert run(project)["rows_deleted"] == "0"
    assert tombstone_count(project, table) == 2


def test_changes_while_the_run_compares_are_neither_lost_nor_tombstones(project: Project, db: Database) -> None:
    table = new_table()
    db.create_events(table)
    start(project, db, [job_row(db, table)])
    run(project)
    db.touch(table, "id = 100", "changed before the run")  # read by the run's incremental extract
    db.execute(f"DELETE FROM {table} WHERE id = 200")

    def meanwhile() -> None:  # after the run read its rows, before it compares the keys
        db.add_events(table, KEYS + 1, KEYS + 50, seconds=LATER)
        db.execute(f"DELETE FROM {table} WHERE id IN (7, 100)")

    observer = ChangeSourceAtComparison(f"{SOURCE}.{table}", meanwhile)
    report = dlt_ingest.run(dlt_ingest.RunOptions(), observer)
    assert report.exit_code == 0 and observer.calls == 1
    result = report.results[0]
    assert (result.rows, result.rows_deleted) == (1, 2)  # 200 and 7; 100 was read by this very run
    history = project.read_lake(SOURCE, table)
    gone = history.filter(history["_deleted_at"].is_valid())["id"].to_pylist()
    assert sorted(gone) == [7, 200]

    row = run(project)  # the rows inserted meanwhile come with the watermark; 100 is found gone now
    assert (row["rows_processed"], row["rows_deleted"]) == ("50", "1")
    assert_lake_is_the_source(project, db, table)


def test_a_failed_comparison_writes_nothing_and_keeps_the_watermark(project: Project, db: Database) -> None:
    table = new_table()
    db.create_events(table)
    start(project, db, [job_row(db, table)])
    first = run(project)
    db.add_events(table, KEYS + 1, KEYS + 10, seconds=LATER)
    db.execute(f"DELETE FROM {table} WHERE id IN (3, 4)")

    def fail() -> None:
        raise RuntimeError("the comparison broke")

    report = dlt_ingest.run(dlt_ingest.RunOptions(), ChangeSourceAtComparison(f"{SOURCE}.{table}", fail))
    assert report.exit_code == 1 and "the comparison broke" in report.results[0].error
    assert project.audit_rows()[-1]["status"] == "FAILED"
    assert len(project.read_lake(SOURCE, table)) == KEYS and tombstone_count(project, table) == 0

    row = run(project)  # from the same cursor: the new rows once, the deletes once
    assert row["watermark_start"] == first["watermark_end"]
    assert (row["rows_processed"], row["rows_deleted"]) == ("10", "2")
    assert_lake_is_the_source(project, db, table)


COMPOSITE_KEYS = ["region", "day", "at", "seq"]


def create_composite(db: Database, table: str) -> list[tuple[Any, ...]]:
    """A key of every kind (text with separators and non-ASCII letters, date, timestamp, integer)."""
    if db.kind == "mysql":
        db.execute(f"CREATE TABLE {table} (region VARCHAR(40), day DATE, at DATETIME(6), seq INT, payload TEXT, "
                   f"updated_at DATETIME(6) NOT NULL, PRIMARY KEY (region, day, at, seq)) CHARACTER SET utf8mb4")
        insert = f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)"
    else:
        db.execute(f"CREATE TABLE {table} (region varchar(40), day date, at timestamp, seq integer, payload text, "
                   f"updated_at timestamp NOT NULL, PRIMARY KEY (region, day, at, seq))")
        insert = f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)"
    regions = ["Zürich", "東京", "a|b", "a", "b|", "back\\slash", "O'Brien", "emoji 😀", "  padded  "]
    days = [date(1000, 1, 1), date(1969, 12, 31), date(2024, 2, 29), date(9999, 12, 31)]
    moments = [datetime(1969, 12, 31, 23, 59, 59, 999999), datetime(2024, 3, 10, 2, 30, 0, 123456)]
    rows = [(region, day, at, seq, f"{region}/{day}/{seq}", datetime(2024, 5, 1, 0, 0, n % 60))
            for n, (region, day, at, seq) in enumerate(
                (r, d, m, s) for r in regions for d in days for m in moments for s in (-2, 0, 7))]
    db.execute(*((insert, row) for row in rows))
    return rows


def python_canonical(region: str, day: date, at: datetime, seq: int) -> str:
    """The canonical text of sources/keys.py, written out independently."""
    micros = (at - datetime(1970, 1, 1)) // (datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1))
    text = region.replace("\\", "\\\\").replace("|", "\\|")
    return f"{text}|{(day - date(1970, 1, 1)).days}|{micros}|{seq}"


def test_composite_keys_of_every_kind_hash_alike_on_the_source_and_in_the_lake(
        project: Project, db: Database, tmp_path: Path) -> None:
    table = new_table()
    rows = create_composite(db, table)
    start(project, db, [job_row(db, table, primary_key=", ".join(COMPOSITE_KEYS))])
    run(project)

    job = Job(db.kind, SOURCE, table, LoadType.INCREMENTAL, watermark_column="updated_at",
              primary_key=tuple(COMPOSITE_KEYS), detect_deletes=True)
    module: Any = REGISTRY.get(db.kind)
    credentials = resolve_source_credentials(module.credentials_spec, SOURCE).config
    session = module.open_session(credentials, [job])
    lake = None
    try:
        reflected, contract, _, _ = module.plan_read(job, session, "test")
        source = SqlKeys(session.engine, reflected, contract, job, lambda action: action())
        lake = LakeKeys(source.columns, tmp_path / "spill")
        files = [(str(f), file_load_id(f.name)) for f in project.lake_files(SOURCE, table)]
        assert not source.by_range
        assert lake.load(TableFiles(files), Buckets(digits=2)) == len(rows)  # 2 digits kept, others computed
        for digits in (0, 1, 2, 3):
            assert source.digest(Buckets(digits=digits)) == lake.digest(Buckets(digits=digits)), digits
        lake.focus()
        texts = {python_canonical(*row[:4]) for row in rows}
        assert set(lake.earlier_keys_in(Buckets(), [""])) == texts
        assert source.present(lake.values_of(sorted(texts))) == texts  # every key found by its primary key
        assert {hashlib.md5(t.encode()).hexdigest()[16:17] for t in texts} == set(lake.digest(Buckets(digits=1)))
    finally:
        if lake is not None:
            lake.close()
        session.close()

    db.execute(f"DELETE FROM {table} WHERE region IN ('a|b', 'a') AND seq = 7",
               f"DELETE FROM {table} WHERE day = '9999-12-31' AND region = 'back\\\\slash'"
               if db.kind == "mysql" else f"DELETE FROM {table} WHERE day = '9999-12-31' AND region = 'back\\slash'")
    (left,) = db.rows(f"SELECT count(*) FROM {table}")[0]
    row = run(project)
    assert row["rows_deleted"] == str(len(rows) - left) == str(2 * 4 * 2 + 2 * 3)
    source_keys = {tuple(r) for r in db.rows(f"SELECT region, day, at, seq, payload FROM {table}")}
    live = live_rows(project.path / "lake", SOURCE, table, COMPOSITE_KEYS, "updated_at")
    assert set(zip(*(live[c].to_pylist() for c in [*COMPOSITE_KEYS, "payload"]), strict=True)) == source_keys
    assert run(project)["rows_deleted"] == "0"


CUTS = {  # the workbook's primary_key, and the bucket of an id's key (2,000 keys: 16 buckets of about 128)
    "by key range": ("id", lambda key: str(key >> 7)),
    "by MD5": ("id, payload", lambda key: hashlib.md5(f"{key}|event-{key}".encode()).hexdigest()[16]),
}


def ids_in_buckets(bucket_of: Any, buckets: list[str], per_bucket: int) -> list[int]:
    """Ids whose key falls into these buckets."""
    found: dict[str, list[int]] = {bucket: [] for bucket in buckets}
    for key in range(1, KEYS + 1):
        bucket = bucket_of(key)
        if bucket in found and len(found[bucket]) < per_bucket:
            found[bucket].append(key)
    return sorted(key for keys in found.values() for key in keys)


@pytest.mark.parametrize("cut", CUTS.values(), ids=CUTS.keys())
@pytest.mark.parametrize("share", [3, 16], ids=["in a few buckets", "in every bucket"])
def test_when_too_many_keys_need_a_lookup_one_scan_of_the_differing_buckets_decides(
        project: Project, db: Database, cut: tuple[str, Any], share: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dlt_ingest.engine.deletes.LOOKUP_LIMIT", 10)
    key, bucket_of = cut
    labels = sorted({bucket_of(k) for k in range(1, KEYS + 1)}, key=lambda label: (len(label), label))
    assert len(labels) == 16
    buckets = labels[::5][:share] if share < 16 else labels
    table = new_table()
    db.create_events(table)
    start(project, db, [job_row(db, table, primary_key=key)])
    run(project)
    gone = ids_in_buckets(bucket_of, buckets, 4)  # more than one per bucket: no bucket names its missing key
    db.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(map(str, gone))})")
    assert run(project)["rows_deleted"] == str(len(gone))
    assert_lake_is_the_source(project, db, table)
    log = "".join(path.read_text(encoding="utf-8") for path in (project.path / "logs").rglob("*.log"))
    assert f"{len(buckets)} differing, one scan of their keys; {len(gone)} deleted" in log


EXTREMES = [-2**63, -2**63 + 1, -2**62 - 5, -2**31 - 1, -2**31, -129, -128, -1, 0, 127, 128, 2**31 - 1, 2**31,
            2**32 + 3, 2**62, 2**63 - 2, 2**63 - 1]


def expected_digest(keys: list[int], shift: int) -> dict[str, BucketDigest]:
    """Range buckets as sources/keys.py defines them, computed in Python."""
    found: dict[str, list[int]] = {}
    for key in keys:
        found.setdefault(str(key >> shift), []).append(key)
    return {b: BucketDigest(len(ks), sum(ks) % 2**64, sum(mix(k) for k in ks)) for b, ks in found.items()}


def test_integer_keys_are_cut_by_range_alike_on_the_source_and_in_the_lake_to_the_64_bit_extremes(
        project: Project, db: Database, tmp_path: Path) -> None:
    table = new_table()
    db.create_events(table, 1000, 1199)
    db.execute(*((f"INSERT INTO {table} VALUES (%s, %s, %s)", (key, f"event-{key}", datetime(2024, 1, 1)))
                 for key in EXTREMES))
    keys = sorted([*EXTREMES, *range(1000, 1200)])
    start(project, db, [job_row(db, table)])
    run(project)

    job = Job(db.kind, SOURCE, table, LoadType.INCREMENTAL, watermark_column="updated_at", primary_key=("id",),
              detect_deletes=True)
    module: Any = REGISTRY.get(db.kind)
    session = module.open_session(resolve_source_credentials(module.credentials_spec, SOURCE).config, [job])
    lake = None
    try:
        reflected, contract, _, _ = module.plan_read(job, session, "test")
        source = SqlKeys(session.engine, reflected, contract, job, lambda action: action())
        assert source.by_range and source.key_range() == (-2**63, 2**63 - 1)
        lake = LakeKeys(source.columns, tmp_path / "spill")
        files = [(str(f), file_load_id(f.name)) for f in project.lake_files(SOURCE, table)]
        assert lake.load(TableFiles(files), Buckets(shift=7)) == len(keys)
        for shift in (0, 1, 7, 31, 32, 62, 63):
            cut = Buckets(shift=shift)
            assert source.digest(cut) == lake.digest(cut) == expected_digest(keys, shift), shift
        lake.focus([str(-2**63 >> 7), str((2**63 - 1) >> 7)])  # the keys of two ranges only
        assert sorted(lake.earlier_keys_in(Buckets(shift=7), [str((2**63 - 1) >> 7)])) == [str(2**63 - 2),
                                                                                          str(2**63 - 1)]
        assert lake.earlier_keys_in(Buckets(shift=7), ["0"]) == []
        lake.focus()
        ends = [str(-2**63 >> 7), str((2**63 - 1) >> 7)]  # MySQL shifts unsigned: its labels differ, not these
        assert sorted(int(t) for batch in source.scan(Buckets(shift=7), ends) for t in batch) == \
            [-2**63, -2**63 + 1, 2**63 - 2, 2**63 - 1]
        assert set(lake.earlier_keys_in(Buckets(shift=63), ["-1", "0"])) == {str(k) for k in keys}
    finally:
        if lake is not None:
            lake.close()
        session.close()

    gone = [-2**63, -1, 1100, 2**63 - 1]
    db.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(map(str, gone))})")
    assert run(project)["rows_deleted"] == str(len(gone))
    assert_lake_is_the_source(project, db, table)
    assert run(project)["rows_deleted"] == "0"


def test_a_key_deleted_and_another_inserted_in_its_range_while_the_run_compares_is_found(
        project: Project, db: Database) -> None:
    table = new_table()
    db.create_events(table)
    db.execute(f"DELETE FROM {table} WHERE id IN (300, 302)")  # room in one range for keys inserted later
    start(project, db, [job_row(db, table)])
    run(project)

    def meanwhile() -> None:  # the same count and key sum in that range: only the mix tells them apart
        db.execute(f"DELETE FROM {table} WHERE id IN (299, 303)")
        db.add_events(table, 300, 300, seconds=LATER)
        db.add_events(table, 302, 302, seconds=LATER)

    report = dlt_ingest.run(dlt_ingest.RunOptions(), ChangeSourceAtComparison(f"{SOURCE}.{table}", meanwhile))
    assert report.exit_code == 0 and report.results[0].rows_deleted == 2
    row = run(project)  # the inserted keys come with the watermark
    assert (row["rows_processed"], row["rows_deleted"]) == ("2", "0")
    assert_lake_is_the_source(project, db, table)


def test_32_bit_keys_are_cut_by_range_and_deleted_at_both_ends(project: Project, db: Database) -> None:
    table = new_table()
    if db.kind == "mysql":
        db.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, payload VARCHAR(100), updated_at DATETIME(6) NOT NULL)")
    else:
        db.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, payload text, updated_at timestamp NOT NULL)")
    keys = [-2**31, -2**31 + 1, -5, 0, 5, *range(100, 400), 2**31 - 2, 2**31 - 1]
    db.execute(*((f"INSERT INTO {table} VALUES (%s, %s, %s)", (key, f"event-{key}", datetime(2024, 1, 1)))
                 for key in keys))
    start(project, db, [job_row(db, table)])
    run(project)
    db.execute(f"DELETE FROM {table} WHERE id IN ({-2**31}, -5, 200, 201, 202, {2**31 - 1})")
    row = run(project)
    assert row["rows_deleted"] == "6"
    assert_lake_is_the_source(project, db, table)
    log = "".join(path.read_text(encoding="utf-8") for path in (project.path / "logs").rglob("*.log"))
    assert "by key ranges of" in log
