"""The type contract against a real PostgreSQL 15 whose time zone is +05:30: every catalog type, NULLs,
unicode, NaN and infinities where the type allows them, extreme values, empty and multi-dimensional
arrays, nested JSON, JSON null against SQL NULL, loaded by every backend, FULL and INCREMENTAL, compared
value by value with what the server returns, with one Parquet schema whatever reads the table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import Project
from server_values import connect, same
from services.postgres import PostgresDatabase, fresh_database

UTC = timezone.utc

TYPES_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ünï 😀');
CREATE DOMAIN money_amount AS numeric(10,2);
CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);
CREATE TYPE pair AS (a integer, b text);
CREATE TABLE every_type (
  id integer PRIMARY KEY, updated_at timestamptz NOT NULL,
  c_smallint smallint, c_integer integer, c_bigint bigint, c_oid oid,
  c_num_5_2 numeric(5,2), c_num_38_10 numeric(38,10), c_numeric numeric, c_num_neg_scale numeric(5,-2),
  c_num_wide numeric(50,10), c_real real, c_double double precision, c_money money, c_bool boolean,
  c_char20 char(20), c_varchar10 varchar(10), c_text text, c_bytea bytea,
  c_date date, c_time time, c_timetz time with time zone, c_timestamp timestamp, c_timestamptz timestamptz,
  c_interval interval, c_uuid uuid, c_json json, c_jsonb jsonb,
  c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8, c_bit3 bit(3), c_varbit varbit,
  c_xml xml, c_tsvector tsvector, c_tsquery tsquery, c_enum mood,
  c_int4range int4range, c_tstzrange tstzrange, c_daterange daterange,
  c_int_arr integer[], c_text_arr text[], c_dom_num money_amount, c_dom_text short_text,
  c_point point, c_composite pair
)"""

# one row per line: the typical row, the all-NULL row, then extremes the lake can hold exactly
ROWS = [
    """(1, '2024-05-01 10:00+00', 12345, 123456789, 1234567890123, 12345, 123.45, 1234567890.0123456789,
        12345678901234567.1234567891, 12300, 1234567890123456789012345678901234567890.0123456789, 3.14159,
        3.141592653589793, 1234.56, true, 'abc   ', 'hello', 'héllo wörld 中文 😀', '\\xdeadbeef', '2024-02-29',
        '13:45:12.123456', '13:45:12.123456+05:30', '2024-03-10 02:30:00.123456', '2024-03-10 02:30:00.123456+00',
        '1 year 2 months 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '{"b": 1, "a": [1, 2.0, "x"], "n": null, "nested": {"deep": [{"x": 10}]}}',
        '{"b": 1, "a": [1, 2.0, "x"], "n": null}', '192.168.1.5/24', '192.168.0.0/16', '08:00:2b:01:02:03',
        '08:00:2b:01:02:03:04:05', B'101', B'1101', '<a b="1">text</a>', 'a fat cat sat on a mat',
        'fat & (rat | cat)', 'happy', '[1,10)', '[2024-01-01 00:00+00,2024-02-01 00:00+00)',
        '[2024-01-01,2024-02-01)', '{1,2,3}', ARRAY['a', 'b c', 'NULL', ''], 12345678.90, 'domain text',
        '(1.5,2.5)', ROW(1, 'x'))""",
    "(2, '2024-05-01 10:01+00')",
    """(3, '2024-05-01 10:02+00', 32767, 2147483647, 9223372036854775807, 4294967295, 999.99,
        9999999999999999999999999999.9999999999, -1.5, 9999900, -1, '3.4028235e38', '1.7976931348623157e308',
        '92233720368547758.07', false, '', 'ab  ', '', '\\x', '0001-01-01', '00:00:00', '00:00:00+15:59',
        '0001-01-01 00:00:00', '0001-01-01 00:00:00+00', '-1 year -2 months +3 days -04:05:06.789',
        '00000000-0000-0000-0000-000000000000', '{}', '{}', '::1', '::/0', 'ff:ff:ff:ff:ff:ff',
        'ff:ff:ff:ff:ff:ff:ff:ff', B'000', B'', '<?xml version="1.0"?><r/>', '', '!a <-> b', 'sad', 'empty',
        '(,infinity)', '[,)', '{}', '{}', 99999999.99, '', '(1e300,-1e-300)', ROW(NULL, NULL))""",
    """(4, '2024-05-01 10:03+00', -32768, -2147483648, -9223372036854775808, 0, -999.99,
        -9999999999999999999999999999.9999999999, 1.10, -50, 0.0000000001, '-Infinity', '-Infinity',
        '-92233720368547758.08', NULL, 'ünïcödé 😀', '😀😀😀😀😀😀😀😀😀😀', E'line1\\nline2\\ttab \\\\ "dq" ''sq''',
        '\\x000001', '9999-12-31', '23:59:59.999999', '23:59:59.999999-15:59', '9999-12-31 23:59:59.999999',
        '9999-12-31 23:59:59.999999+00', '-178000000 years', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '[]', '[]',
        '10.0.0.1', '10.0.0.1/32', '00-00-00-00-00-00', '08:00:2b:01:02:03', B'111', repeat('10', 50)::varbit,
        'plain content &amp; more', $$'it''s':1A 'x':2B,3$$, '', 'ünï 😀', '(,5]', 'empty', 'empty',
        '{1,NULL,3}', '{NULL}', -0.01, E'tab\\there', '(NaN,Infinity)', ROW(-1, 'a,b "c"'))""",
    """(5, '2024-05-01 10:04+00', 0, 0, 9007199254740993, NULL, 0.01, 0.0000000001, 0, NULL, NULL, 'NaN', 'NaN',
        0, NULL, '  lead', NULL, 'NULL', '\\x00', '1970-01-01', '12:00:00', '12:00:00+00', '1900-01-01 00:00:00',
        '1900-01-01 00:00:00+00', '0.000001 seconds', NULL, 'null', 'null', '2001:db8::1/64', '2001:db8::/32',
        NULL, NULL, NULL, B'0', '<a>&lt;&amp;</a>', NULL, NULL, NULL, '[,]',
        '[2024-01-01 00:00+05:30,2024-01-01 00:00+05:30]', '[2024-01-01,2024-01-01]', '{{1,2},{3,4}}',
        '{{a,b},{c,d}}', NULL, NULL, NULL, NULL)""",
    """(6, '2024-05-01 10:05+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '-0.0', '-0.0', NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '1942-09-01 12:00:00+00', '100 hours', NULL,
        '{"a": 1, "a": 2}', '{"a": 1, "a": 2}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, '[0:1]={5,6}', '{"with,comma","quote\\"","back\\\\slash"}', NULL, NULL, NULL, NULL)""",
    """(7, '2024-05-01 10:06+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', 'Infinity',
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        '{"big": 12345678901234567890, "f": 10.0, "i": 10, "e": 1e400, "u": "\\u00e9\\ud83d\\ude00"}',
        '{"big": 12345678901234567890, "f": 10.0, "i": 10, "u": "\\u00e9"}', NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
    """(8, '2024-05-01 10:07+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '1.17549435e-38', '5e-324',
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '  {"spaces" :  1 }  ',
        '"just a string"', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL)""",
]

TEXT = pa.string()
LAKE_SCHEMA = {
    "id": pa.int64(), "updated_at": pa.timestamp("us", tz="UTC"),
    "c_smallint": pa.int64(), "c_integer": pa.int64(), "c_bigint": pa.int64(), "c_oid": pa.int64(),
    "c_num_5_2": pa.decimal128(5, 2), "c_num_38_10": pa.decimal128(38, 10), "c_numeric": pa.decimal128(38, 10),
    "c_num_neg_scale": pa.decimal128(7, 0), "c_num_wide": TEXT, "c_real": pa.float32(), "c_double": pa.float64(),
    "c_money": pa.decimal128(19, 2), "c_bool": pa.bool_(), "c_char20": TEXT, "c_varchar10": TEXT, "c_text": TEXT,
    "c_bytea": pa.binary(), "c_date": pa.date32(), "c_time": pa.time64("us"), "c_timetz": TEXT,
    "c_timestamp": pa.timestamp("us"), "c_timestamptz": pa.timestamp("us", tz="UTC"), "c_interval": TEXT,
    "c_uuid": TEXT, "c_json": TEXT, "c_jsonb": TEXT, "c_inet": TEXT, "c_cidr": TEXT, "c_macaddr": TEXT,
    "c_macaddr8": TEXT, "c_bit3": TEXT, "c_varbit": TEXT, "c_xml": TEXT, "c_tsvector": TEXT, "c_tsquery": TEXT,
    "c_enum": TEXT, "c_int4range": TEXT, "c_tstzrange": TEXT, "c_daterange": TEXT, "c_int_arr": TEXT,
    "c_text_arr": TEXT, "c_dom_num": pa.decimal128(10, 2), "c_dom_text": TEXT, "c_point": TEXT,
    "c_composite": TEXT,
}
# the DuckDB scanner reads these exactly (char padded again, uuid and enums as text, json as stored)
DUCKDB_COLUMNS = ["id", "updated_at", "c_smallint", "c_integer", "c_bigint", "c_num_5_2", "c_num_38_10", "c_real",
                  "c_double", "c_bool", "c_char20", "c_varchar10", "c_text", "c_bytea", "c_date", "c_time",
                  "c_timestamp", "c_timestamptz", "c_uuid", "c_json", "c_jsonb", "c_enum"]
CONNECTORX_COLUMNS = [c for c in DUCKDB_COLUMNS if c not in ("c_num_5_2", "c_num_38_10", "c_time", "c_date",
                                                             "c_timestamp", "c_timestamptz", "updated_at")]


@pytest.fixture(scope="module")
def pg(postgres: Any) -> Iterator[PostgresDatabase]:
    with fresh_database(postgres, "contract") as database:
        database.execute(f"ALTER DATABASE {database.database_name} SET timezone TO 'Asia/Kolkata'")
        database.execute(TYPES_DDL, *[f"INSERT INTO every_type VALUES {row}" for row in ROWS])
        database.execute("CREATE TABLE duck_types AS SELECT " + ", ".join(DUCKDB_COLUMNS) + " FROM every_type",
                         "ALTER TABLE duck_types ADD PRIMARY KEY (id)")
        database.execute("CREATE TABLE cx_types AS SELECT " + ", ".join(CONNECTORX_COLUMNS) + " FROM every_type",
                         "ALTER TABLE cx_types ADD PRIMARY KEY (id)")
        yield database


def server_values(pg: Any, table: str, columns: list[str]) -> dict[int, dict[str, Any]]:
    """What the server holds, per row: the server's text for columns that land as text, the driver's typed
    value for the others (money as numeric), in the session every read uses."""
    typed, text = connect(pg), connect(pg, raw_text=True)
    try:
        as_text = [c for c in columns if LAKE_SCHEMA[c] == TEXT]
        native = [c for c in columns if c not in as_text]
        expressions = [f"{c}::numeric" if c == "c_money" else c for c in native]
        values: dict[int, dict[str, Any]] = {}
        with typed.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(expressions)} FROM {table}")
            for row in cursor.fetchall():
                values[row[0]] = {c: bytes(v) if isinstance(v, memoryview) else v for c, v in zip(native, row,
                                                                                                 strict=True)}
        with text.cursor() as cursor:
            cursor.execute(f"SELECT id, {', '.join(as_text)} FROM {table}")
            for row in cursor.fetchall():
                values[int(row[0])].update(zip(as_text, row[1:], strict=True))
        return values
    finally:
        typed.close()
        text.close()


def _project(project: Project, pg: Any, table: str, backend: str, load_type: str, cursor: str = "updated_at",
             **row: str) -> None:
    project.append_config("\n".join([
        "[sources.pg]", f'host = "{pg.host}"', f"port = {pg.port}", f'database = "{pg.database_name}"',
        f'username = "{pg.user}"', f'password = "{pg.password}"', f'backend = "{backend}"']), "secrets.toml")
    start = "2024-01-01T00:00:00+00:00" if cursor == "updated_at" else 0
    incremental = {"watermark_column": cursor, "last_watermark": start, "primary_key": "id"} if (
        load_type == "INCREMENTAL") else {}
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "schema_name": "public",
                             "table_name": table, "load_type": load_type, "enabled": "Y", **incremental, **row}])


def assert_exact_copy(project: Project, pg: Any, table: str, columns: list[str]) -> None:
    files = project.lake_files("pg", table)
    schemas = {str(pq.read_schema(f).remove_metadata()) for f in files}
    assert len(schemas) == 1, schemas
    lake = project.read_lake("pg", table)
    assert {name: lake.schema.field(name).type for name in columns} == {name: LAKE_SCHEMA[name] for name in columns}
    expected = server_values(pg, table, columns)
    landed = {row["id"]: row for row in lake.select(columns).to_pylist()}
    assert set(landed) == set(expected)
    wrong = [(row_id, name, expected[row_id][name], landed[row_id][name]) for row_id in expected for name in columns
             if not same(expected[row_id][name], landed[row_id][name], LAKE_SCHEMA[name])]
    assert wrong == []


@pytest.mark.parametrize("load_type", ["FULL", "INCREMENTAL"])
@pytest.mark.parametrize("backend", ["auto", "pyarrow", "adbc"])
def test_every_postgresql_type_lands_exactly_on_every_backend_that_can_read_it(
        project: Project, pg: Any, backend: str, load_type: str) -> None:
    _project(project, pg, "every_type", backend, load_type)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert_exact_copy(project, pg, "every_type", list(LAKE_SCHEMA))


def test_a_forced_duckdb_reads_incremental_windows_through_adbc_so_every_type_lands(project: Project, pg: Any
                                                                                  ) -> None:
    _project(project, pg, "every_type", "duckdb", "INCREMENTAL")  # ADBC reads the window, not DuckDB's scanner
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert_exact_copy(project, pg, "every_type", list(LAKE_SCHEMA))


@pytest.mark.parametrize("load_type", ["FULL", "INCREMENTAL"])
@pytest.mark.parametrize("backend", ["auto", "pyarrow", "adbc", "duckdb"])
def test_the_duckdb_readable_types_land_the_same_through_duckdb_and_the_others(
        project: Project, pg: Any, backend: str, load_type: str) -> None:
    _project(project, pg, "duck_types", backend, load_type)
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert_exact_copy(project, pg, "duck_types", DUCKDB_COLUMNS)


@pytest.mark.parametrize("load_type", ["FULL", "INCREMENTAL"])
def test_connectorx_lands_the_types_it_reads_exactly(project: Project, pg: Any, load_type: str) -> None:
    _project(project, pg, "cx_types", "connectorx", load_type, cursor="id")  # no timestamp: connectorx reads none
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert_exact_copy(project, pg, "cx_types", CONNECTORX_COLUMNS)


@pytest.mark.parametrize(("backend", "columns"), [
    ("duckdb", "c_numeric (numeric) can be read by pyarrow, adbc"),
    ("connectorx", "c_num_5_2 (numeric(5,2)) can be read by pyarrow, adbc, duckdb"),
])
def test_a_forced_backend_that_cannot_read_a_column_exactly_is_refused_before_reading(
        project: Project, pg: Any, backend: str, columns: str) -> None:
    _project(project, pg, "every_type", backend, "FULL")
    result = project.ingest("run")
    assert result.exit_code == 1
    error = project.audit_rows()[-1]["error_message"]
    assert error.startswith(f"backend '{backend}' in workbook row 2 cannot read every column exactly: ")
    assert columns in error and error.endswith(": use auto or one of those backends")
    assert not project.lake_files("pg", "every_type")


REFUSED = [  # (column type, value, the words of the refusal)
    ("numeric(5,2)", "'NaN'", "holds NaN or Infinity"),
    ("numeric", "'NaN'", "holds NaN or Infinity"),
    ("numeric", "1234567890123456789012345678901234567890", "does not fit decimal(38,10)"),
    ("numeric", "0.000000000000000000000000000001", "does not fit decimal(38,10)"),
    ("date", "'infinity'", "'infinity' or a date outside the years 1 to 9999"),
    ("date", "'-infinity'", "'infinity' or a date outside the years 1 to 9999"),
    ("date", "'4713-11-24 BC'", "'infinity' or a date outside the years 1 to 9999"),
    ("date", "'5874897-12-31'", "'infinity' or a date outside the years 1 to 9999"),
    ("timestamp", "'infinity'", "'infinity' or a date outside the years 1 to 9999"),
    ("timestamp", "'294276-12-31 23:59:59.999999'", "'infinity' or a date outside the years 1 to 9999"),
    ("timestamptz", "'-infinity'", "'infinity' or a date outside the years 1 to 9999"),
    ("time", "'24:00:00'", "24:00:00"),
]
REFUSING_BACKENDS = {"numeric(5,2)": ["pyarrow", "adbc", "duckdb"], "numeric": ["pyarrow", "adbc"],
                     "date": ["pyarrow", "adbc", "duckdb"], "timestamp": ["pyarrow", "adbc", "duckdb"],
                     "timestamptz": ["pyarrow", "adbc", "duckdb"], "time": ["pyarrow", "adbc", "duckdb"]}


@pytest.mark.parametrize(("column_type", "value", "words", "backend"), [
    (kind, value, words, backend) for kind, value, words in REFUSED for backend in REFUSING_BACKENDS[kind]])
def test_a_value_no_lake_type_holds_fails_the_job_naming_the_column_and_lands_nothing(
        project: Project, pg: Any, column_type: str, value: str, words: str, backend: str) -> None:
    table = f"odd_{abs(hash((column_type, value))) % 100_000}"
    pg.execute(f"CREATE TABLE IF NOT EXISTS {table} (id integer, odd {column_type})", f"TRUNCATE {table}",
               f"INSERT INTO {table} VALUES (1, NULL), (2, {value})")
    _project(project, pg, table, backend, "FULL")
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    error = project.audit_rows()[-1]["error_message"]
    assert "column odd" in error and words in error, error
    assert not project.lake_files("pg", table)


SHARED_NAMES = ('CREATE TABLE IF NOT EXISTS shared_names ("ID" integer, id integer, "zip code" text, zip_code text, '
                '"ä" text, "ö" text, kept integer)', "TRUNCATE shared_names",
                "INSERT INTO shared_names VALUES (1, 2, 'a', 'b', 'c', 'd', 3)")


SHARED = ("columns of table 'shared_names' share a lake column name (dlt's snake_case): 'ID', 'id' all land as 'id'; "
          "'zip code', 'zip_code' all land as 'zip_code'; 'ä', 'ö' all land as 'x': read one of each with "
          "exclude_columns or include_columns")
CASE_TWIN = ("backend 'duckdb' in workbook row 2 cannot read every column exactly: id (integer, another column's name "
             "differs only in case) can be read by pyarrow, connectorx, adbc: use auto or one of those backends")


@pytest.mark.parametrize(("backend", "excluded", "error"), [
    ("auto", "", SHARED), ("pyarrow", "", SHARED), ("adbc", "", SHARED), ("duckdb", "", SHARED),
    ("duckdb", "ID, zip code, ö", CASE_TWIN),  # DuckDB's scanner reads "ID" when asked for id
])
def test_columns_sharing_a_lake_name_or_differing_only_in_case_are_refused_before_reading(
        project: Project, pg: Any, backend: str, excluded: str, error: str) -> None:
    pg.execute(*SHARED_NAMES)
    _project(project, pg, "shared_names", backend, "FULL", exclude_columns=excluded)
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    assert project.audit_rows()[-1]["error_message"] == error
    assert not project.lake_files("pg", "shared_names")


@pytest.mark.parametrize("backend", ["auto", "pyarrow", "adbc"])
def test_a_column_whose_name_differs_from_another_only_in_case_lands_its_own_values(
        project: Project, pg: Any, backend: str) -> None:
    pg.execute(*SHARED_NAMES)
    _project(project, pg, "shared_names", backend, "FULL", exclude_columns="ID, zip code, ö")
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    assert project.read_lake("pg", "shared_names").to_pylist() == [{"id": 2, "zip_code": "b", "x": "c", "kept": 3}]


def test_a_wall_clock_watermark_declared_utc_starts_from_an_instant_without_a_warning(project: Project, pg: Any
                                                                                     ) -> None:
    pg.execute("CREATE TABLE IF NOT EXISTS wall_clock (id integer PRIMARY KEY, ts timestamp)", "TRUNCATE wall_clock",
               "INSERT INTO wall_clock VALUES (1, '2024-05-01 10:00'), (2, '2024-05-02 10:00')")
    _project(project, pg, "wall_clock", "pyarrow", "FULL")
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "table_name": "wall_clock",
                             "load_type": "INCREMENTAL", "watermark_column": "ts", "primary_key": "id",
                             "last_watermark": "2024-01-01T00:00:00", "column_types": "ts: timestamptz",
                             "enabled": "Y"}])
    result = project.ingest("run")
    assert result.exit_code == 0, result.output
    audit = project.audit_rows()[-1]
    # was: dlt's "last_value ... and row value ... differ in timezone awareness" in the audit's warnings
    assert (audit["warnings"], audit["reconciliation"], audit["rows_processed"]) == ("", "MATCH", "2"), audit


@pytest.mark.parametrize("backend", ["pyarrow", "adbc", "duckdb", "connectorx"])
def test_a_column_named_with_a_percent_sign_is_read(project: Project, pg: Any, backend: str) -> None:
    pg.execute('CREATE TABLE IF NOT EXISTS percent_names (id integer, "growth %" integer, "%s" text)',
               "TRUNCATE percent_names", "INSERT INTO percent_names VALUES (1, 5, 'x')")
    _project(project, pg, "percent_names", backend, "FULL")
    result = project.ingest("run")  # was (adbc, connectorx): column percent_names."growth %%" does not exist
    assert result.exit_code == 0, result.output
    assert project.read_lake("pg", "percent_names").to_pylist() == [{"id": 1, "growthx": 5, "_s": "x"}]


@pytest.mark.parametrize("backend", ["pyarrow", "adbc"])
def test_a_text_watermark_holding_a_percent_sign_filters_exactly(project: Project, pg: Any, backend: str) -> None:
    pg.execute("CREATE TABLE IF NOT EXISTS percent_codes (id integer PRIMARY KEY, code text)", "TRUNCATE percent_codes",
               "INSERT INTO percent_codes VALUES (1, 'a%b')")
    _project(project, pg, "percent_codes", backend, "FULL")
    project.write_workbook([{"source_type": "postgresql", "source_name": "pg", "table_name": "percent_codes",
                             "load_type": "INCREMENTAL", "watermark_column": "code", "primary_key": "id",
                             "enabled": "Y"}])
    assert project.ingest("run").exit_code == 0
    pg.execute("INSERT INTO percent_codes VALUES (2, 'a%%c'), (3, 'a%c')")  # 'a%%c' < 'a%b' < 'a%c'
    result = project.ingest("run")  # the cursor stored by the first run, 'a%b', is the window's start
    assert result.exit_code == 0, result.output
    assert sorted(project.read_lake("pg", "percent_codes").column("code").to_pylist()) == ["a%b", "a%c"]
    assert [row["reconciliation"] for row in project.audit_rows()] == ["MATCH", "MATCH"]
