"""The ADBC fast path for PostgreSQL gives the same lake values and types as the pyarrow backend."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from conftest import Project
from dlt_ingest.sources.sql import base as sql_base
from dlt_ingest.sources.sql import pg_adbc, pg_duckdb, postgresql
from dlt_ingest.sources.sql.contract import TableContract
from dlt_ingest.sources.sql.pg_login import PgLogin
from dlt_ingest.sources.sql.postgresql import PostgresSource
from services.postgres import PostgresDatabase, fresh_database
from test_postgres_source import _events, _job, _secrets

UTC = timezone.utc

FAST_DDL = """CREATE TABLE {table} (
    id bigint PRIMARY KEY, qty smallint, price numeric(12,2), big numeric(38,10), whole numeric(18,0),
    happened_at timestamptz, local_at timestamp, day date, flag boolean, ratio double precision,
    label text, code varchar(10), blob bytea)"""

FAST_ROWS = [
    "(1, 7, 9999999999.99, 1234567890123456789012345678.0123456789, 999999999999999999, "
    "'2024-03-01 10:00:00.123456+02', '2024-03-01 10:00:00.654321', '2024-02-29', true, 0.1, "
    "'héllo ✓ 漢字 🚀', 'AIR', '\\x00deadbeef')",
    "(-2, -32768, -0.01, -0.0000000001, -1, '1999-12-31 23:59:59.999999+00', '1970-01-01', '0001-01-01', "
    "false, -1e308, '', 'REG AIR', '')",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]

EXPECTED_TYPES = {
    "id": pa.int64(), "qty": pa.int64(), "price": pa.decimal128(12, 2), "big": pa.decimal128(38, 10),
    "whole": pa.decimal128(18, 0), "happened_at": pa.timestamp("us", tz="UTC"), "local_at": pa.timestamp("us"),
    "day": pa.date32(), "flag": pa.bool_(), "ratio": pa.float64(), "label": pa.string(), "code": pa.string(),
    "blob": pa.binary(),
}

EXPECTED_ROWS = [
    {"id": -2, "qty": -32768, "price": Decimal("-0.01"), "big": Decimal("-0.0000000001"), "whole": Decimal(-1),
     "happened_at": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "local_at": datetime(1970, 1, 1),
     "day": date(1, 1, 1), "flag": False, "ratio": -1e308, "label": "", "code": "REG AIR", "blob": b""},
    {"id": 1, "qty": 7, "price": Decimal("9999999999.99"), "big": Decimal("1234567890123456789012345678.0123456789"),
     "whole": Decimal(999999999999999999), "happened_at": datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC),
     "local_at": datetime(2024, 3, 1, 10, 0, 0, 654321), "day": date(2024, 2, 29), "flag": True, "ratio": 0.1,
     "label": "héllo ✓ 漢字 🚀", "code": "AIR", "blob": b"\x00\xde\xad\xbe\xef"},
    {"id": 3, **{name: None for name in EXPECTED_TYPES if name != "id"}},
]


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    with fresh_database(postgres, "fast") as database:
        yield database


@pytest.fixture(scope="module")
def fast_table(pg: Any) -> str:
    _events(pg, "fast_types", [FAST_DDL] + [f"INSERT INTO {{table}} VALUES {row}" for row in FAST_ROWS])
    return "fast_types"


@pytest.mark.parametrize("backend", ["pyarrow", "adbc", "duckdb", "auto"])
def test_every_backend_lands_the_same_exact_values(project: Project, pg: Any, fast_table: str, backend: str) -> None:
    project.append_config(_secrets(pg, "pg", backend=backend), "secrets.toml")
    project.write_workbook([_job("pg", "public", fast_table)])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    lake = project.read_lake("pg", fast_table)
    assert {name: lake.schema.field(name).type for name in EXPECTED_TYPES} == EXPECTED_TYPES
    assert sorted(lake.select(list(EXPECTED_TYPES)).to_pylist(), key=lambda r: r["id"]) == EXPECTED_ROWS
    assert "when merging arrow schema" not in "\n".join(p.read_text() for p in project.path.glob("logs/*.log"))


@pytest.mark.parametrize(("ddl", "full", "incremental"), [
    ("id bigint, price numeric(12,2), at timestamptz, note varchar(5), doc jsonb, ref uuid", "duckdb", "adbc"),
    ("id bigint, amount numeric", "adbc", "adbc"),  # no declared precision: DuckDB would read a double
    ("id bigint, span interval", "adbc", "adbc"),  # ISO 8601 text from the server: DuckDB cannot ask for it
    ("id bigint, code char(3), tags text[]", "adbc", "adbc"),
])
def test_auto_backend_takes_the_fastest_backend_that_reads_every_column_exactly(pg: Any, ddl: str, full: str,
                                                                                incremental: str) -> None:
    table = f"auto_{abs(hash(ddl)) % 10_000}"
    _events(pg, table, [f"CREATE TABLE {{table}} ({ddl})"])
    engine = sa.create_engine(pg.url())
    try:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=engine)
        contract = TableContract.of(table, reflected.columns, engine.dialect)
    finally:
        engine.dispose()
    source_session = SimpleNamespace(credentials=SimpleNamespace(backend="auto"))
    for load_type, expected in (("FULL", full), ("INCREMENTAL", incremental)):
        job = SimpleNamespace(extra={}, is_incremental=load_type == "INCREMENTAL", name="j", row=2)
        assert PostgresSource().choose_backend(job, source_session, contract) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("readers", [1, 2, 3])
def test_key_range_reads_load_every_row_exactly_once(project: Project, pg: Any, readers: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    table = f"ranges_{readers}"
    _events(pg, table, ["CREATE TABLE {table} (id bigint PRIMARY KEY, price numeric(12,2), at timestamptz)",
                        "INSERT INTO {table} SELECT g * 7 - 5000, g / 100.0, timestamptz '2024-01-01 00:00:00+00' "
                        "+ g * interval '1 second' FROM generate_series(1, 3001) g",
                        "ANALYZE {table}"])
    monkeypatch.setattr(pg_adbc, "PARALLEL_MIN_ROWS", 1000)
    project.append_config(_secrets(pg, "pg", backend="adbc", parallel_reads=str(readers)), "secrets.toml")
    project.write_workbook([_job("pg", "public", table)])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    lake = project.read_lake("pg", table)
    ids = lake["id"].to_pylist()
    assert sorted(ids) == [g * 7 - 5000 for g in range(1, 3002)]
    assert sum(lake["price"].to_pylist()) == sum(Decimal(g) / 100 for g in range(1, 3002))
    assert min(lake["at"].to_pylist()) == datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=1)


@pytest.mark.parametrize("readers", [1, 3])
def test_duckdb_snapshot_loads_every_row_exactly_once_across_parallel_tasks(project: Project, pg: Any, readers: int,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    table = f"many_pages_{readers}"
    _events(pg, table, ["CREATE TABLE {table} (id bigint PRIMARY KEY, price numeric(12,2), note text)",
                               "INSERT INTO {table} SELECT g, g / 100.0, repeat('x', 200) "
                               "FROM generate_series(1, 40000) g"])  # ~1,300 pages: several scan tasks
    project.append_config(_secrets(pg, "pg", backend="duckdb", parallel_reads=str(readers)), "secrets.toml")
    project.write_workbook([_job("pg", "public", table)])

    def no_second_scan(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the reconciliation should use the count taken while DuckDB copied")

    monkeypatch.setattr(sql_base, "count_query", no_second_scan)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    lake = project.read_lake("pg", table)
    assert sorted(lake["id"].to_pylist()) == list(range(1, 40001))
    assert sum(lake["price"].to_pylist()) == sum(Decimal(g) / 100 for g in range(1, 40001))
    audit = project.audit_rows()[-1]
    assert (audit["reconciliation"], audit["source_count"]) == ("MATCH", "40000")


@pytest.mark.parametrize(("ddl", "row", "message"), [
    ("id bigint, price numeric(12,2)", "(1, 'NaN')",
     "column price of {table} holds NaN or Infinity, which no decimal Parquet column can carry: give the column "
     "a column_types override (e.g. text) in the workbook, or exclude it"),
    ("id bigint, at timestamptz", "(1, 'infinity')",
     "column at (timestamp with time zone) holds 'infinity' or a date outside the years 1 to 9999, which "
     "Parquet readers cannot show: replace it in the source (for example with NULL) or exclude the column"),
    ("id bigint, day date", "(1, '-infinity')",
     "column day (date) holds 'infinity' or a date outside the years 1 to 9999, which Parquet readers cannot "
     "show: replace it in the source (for example with NULL) or exclude the column"),
])
def test_duckdb_snapshot_fails_on_a_value_it_would_change_and_lands_nothing(project: Project, pg: Any, ddl: str,
                                                                             row: str, message: str) -> None:
    table = f"odd_{abs(hash(ddl)) % 10_000}"
    _events(pg, table, [f"CREATE TABLE {{table}} ({ddl})", "INSERT INTO {table} VALUES (2, NULL)",
                        f"INSERT INTO {{table}} VALUES {row}"])
    project.append_config(_secrets(pg, "pg", backend="duckdb"), "secrets.toml")
    project.write_workbook([_job("pg", "public", table)])
    result = project.ingest("run")
    assert result.exit_code == 1
    assert project.audit_rows()[-1]["error_message"] == message.format(table=table)
    assert not project.lake_files("pg", table)


def test_duckdb_connection_failure_is_one_line_without_the_password(project: Project, pg: Any, fast_table: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = pg.password + "-canary"
    secret = PgLogin.duckdb_secret
    monkeypatch.setattr(PgLogin, "duckdb_secret",
                        lambda self, name: secret(self, name).replace(pg.password.replace("'", "''"), wrong))
    project.append_config(_secrets(pg, "pg", backend="duckdb"), "secrets.toml")
    project.write_workbook([_job("pg", "public", fast_table)])
    result = project.ingest("run")
    assert result.exit_code == 1
    error = project.audit_rows()[-1]["error_message"]
    assert error.startswith(f"cannot read from {pg.host}/{pg.database_name}: ") and "\n" not in error
    assert "password authentication failed" in error
    assert wrong not in result.output and wrong not in project.all_output_text()


@pytest.mark.parametrize(("source_backend", "row_backend", "used"), [
    ("auto", None, "pyarrow"), ("auto", "pyarrow", "pyarrow"), ("pyarrow", "adbc", "adbc"),  # a small table
    ("pyarrow", "duckdb", "duckdb"), ("pyarrow", "auto", "pyarrow"),
])
def test_workbook_row_backend_wins_over_the_source_setting(project: Project, pg: Any, fast_table: str,
                                                           caplog: pytest.LogCaptureFixture, source_backend: str,
                                                           row_backend: str | None, used: str) -> None:
    project.append_config(_secrets(pg, "pg", backend=source_backend), "secrets.toml")
    project.write_workbook([_job("pg", "public", fast_table, **({"backend": row_backend} if row_backend else {}))])
    with caplog.at_level("INFO", logger="dlt_ingest.sources"):
        assert project.ingest("run").exit_code == 0
    assert f"pg.public.{fast_table}: reading with the {used} backend" in caplog.messages


@pytest.mark.parametrize(("small_below", "used"), [(4 * 1024 * 1024, "pyarrow"), (0, "duckdb")])
def test_auto_reads_a_small_table_through_pyarrow_and_a_larger_one_through_duckdb(
        project: Project, pg: Any, fast_table: str, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch, small_below: int, used: str) -> None:
    monkeypatch.setattr(postgresql, "SMALL_TABLE_BYTES", small_below)
    project.append_config(_secrets(pg, "pg"), "secrets.toml")
    project.write_workbook([_job("pg", "public", fast_table)])
    with caplog.at_level("INFO", logger="dlt_ingest.sources"):
        assert project.ingest("run").exit_code == 0
    assert f"pg.public.{fast_table}: reading with the {used} backend" in caplog.messages
    assert project.read_lake("pg", fast_table).num_rows > 0


def test_the_log_says_adbc_reads_an_incremental_window_of_the_duckdb_backend(
        project: Project, pg: Any, fast_table: str, caplog: pytest.LogCaptureFixture) -> None:
    project.append_config(_secrets(pg, "pg", backend="duckdb"), "secrets.toml")
    project.write_workbook([_job("pg", "public", fast_table, "INCREMENTAL", watermark_column="id", primary_key="id")])
    with caplog.at_level("INFO", logger="dlt_ingest.sources"):
        assert project.ingest("run").exit_code == 0
    assert f"pg.public.{fast_table}: reading with the adbc (duckdb reads FULL snapshots only) backend" in (
        caplog.messages)


def test_workbook_row_backend_unknown_to_the_source_type_is_refused_by_validation(project: Project) -> None:
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": "customers",
                             "load_type": "FULL", "enabled": "Y", "backend": "adbc"}])
    for command in ("validate-config", "run"):
        result = project.ingest(command)
        assert result.exit_code == 2
        assert result.stderr.splitlines()[0] == (
            "SourceConfig!L2 backend: 'adbc' is not available for sqlite sources: use auto or one of pyarrow")
    assert project.audit_rows() == []


def test_duckdb_attach_string_carries_libpq_options_with_libpq_quoting() -> None:
    login = PgLogin("h", 5432, "d", "u", "p'w", {"sslmode": "require", "application_name": "it's \\ ingest"}, 7)
    session = pg_duckdb.DuckDbSession(login, readers=2)
    assert session.connection_options() == (
        "sslmode='require' application_name='it\\'s \\\\ ingest' connect_timeout='7'")
    assert "p'w" not in session.connection_options()  # the password goes into the DuckDB secret only
    assert "PASSWORD 'p''w'" in login.duckdb_secret("pg")


SLOW_FUNCTION = ("CREATE OR REPLACE FUNCTION slowly(x bigint) RETURNS bigint VOLATILE LANGUAGE sql AS "
                 "'SELECT pg_sleep(0.001); SELECT x'")


@pytest.mark.slow
def test_ctrl_c_stops_a_long_duckdb_copy_at_once_and_lands_nothing(project: Project, pg: Any) -> None:
    from test_interrupts import _start_run, _wait_for_log

    _events(pg, "slow_rows", [
        SLOW_FUNCTION, "CREATE VIEW {table} AS SELECT slowly(g) AS id FROM generate_series(1, 100000) g"])  # ~100 s
    project.append_config(_secrets(pg, "pg", backend="duckdb"), "secrets.toml")
    project.write_workbook([_job("pg", "public", "slow_rows")])
    process = _start_run(project)
    try:
        _wait_for_log(project, "reading with the duckdb backend", process)
        time.sleep(2)  # DuckDB is copying (the view takes ~100 s)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode()  # the whole view would take ~100 s
    finally:
        process.kill()
    assert process.returncode == 1, output
    assert project.audit_rows()[-1]["status"] == "INTERRUPTED"
    assert not project.lake_files("pg", "slow_rows")


def test_snapshot_scan_started_early_stops_at_once_when_the_job_needs_it_no_longer(pg: Any) -> None:
    _events(pg, "slow_scan", [SLOW_FUNCTION, "CREATE VIEW {table} AS SELECT slowly(g) AS id, 1.5::numeric(4,1) AS "
                                             "price FROM generate_series(1, 100000) g"])  # ~100 s to scan
    engine = sa.create_engine(pg.url())
    try:
        scan = pg_duckdb.SnapshotScan(engine, "public", "slow_scan", ["price"])
        scan.start()
        time.sleep(0.5)  # the scan is running on the server
        started = time.monotonic()
        scan.stop()
        assert not scan.is_alive()
        assert time.monotonic() - started < 10
        assert scan.rows is None and scan.found is None
    finally:
        engine.dispose()


@pytest.mark.parametrize(("load_type", "backend", "starts"), [
    ("FULL", "duckdb", True),
    ("FULL", "adbc", False),
    ("FULL", "pyarrow", False),
    ("INCREMENTAL", "duckdb", False),  # incremental windows stream through ADBC
])
def test_full_duckdb_snapshot_starts_its_scan_and_session_as_soon_as_the_backend_is_chosen(
        pg: Any, fast_table: str, load_type: str, backend: str, starts: bool) -> None:
    job = SimpleNamespace(is_incremental=load_type == "INCREMENTAL", schema_name="public", table_name=fast_table)
    engine = sa.create_engine(pg.url())
    try:
        credentials = SimpleNamespace(parallel_reads=2, connect_timeout=5, host=pg.host, port=pg.port, sslmode=None,
                                      database=pg.database_name, username=pg.user, password=pg.password)
        contract = TableContract(fast_table, "postgresql", [])
        started = PostgresSource().start_background_work(job, engine, credentials, backend,  # type: ignore[arg-type]
                                                         contract)
        if started is not None:
            started.stop()
        assert (started is not None) == starts
    finally:
        engine.dispose()


def test_duckdb_session_opened_in_background_attaches_the_source_and_reopens_after_close(pg: Any,
                                                                                         fast_table: str) -> None:
    login = PgLogin(pg.host, pg.port, pg.database_name, pg.user, pg.password, {}, 5)
    session = pg_duckdb.DuckDbSession(login, readers=1).open_in_background()
    try:
        assert session.connection().execute(f"SELECT count(*) FROM src.public.{fast_table}").fetchone() == (3,)
        session.close()
        assert session.connection().execute(f"SELECT count(*) FROM src.public.{fast_table}").fetchone() == (3,)
    finally:
        session.close()
