"""Oracle, SQL Server, Azure SQL (and the PostgreSQL/MySQL URL rules) without a server: URLs, options,
driver choice, type mapping and the SQL that dlt's `sql_table` sends, compiled with each real dialect."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from dlt.sources.sql_database.helpers import TableLoader
from sqlalchemy.dialects import mysql, oracle, postgresql
from sqlalchemy.dialects.mssql.mssqlpython import MSDialect_mssqlpython
from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc
from sqlalchemy.dialects.oracle.oracledb import OracleDialect_oracledb
from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2
from sqlalchemy.engine import make_url

from dlt_ingest.errors import RowMismatch, SourceError
from dlt_ingest.sources import REGISTRY
from dlt_ingest.sources.keys import Buckets
from dlt_ingest.sources.sql.azure_sql import AzureSqlCredentials
from dlt_ingest.sources.sql.cursor import build_incremental, convert_watermark
from dlt_ingest.sources.sql.mssql import ODBC_17, ODBC_18, MssqlCredentials, pick_python_driver
from dlt_ingest.sources.sql.oracle import OracleCredentials
from dlt_ingest.sources.sql.postgresql import PostgresCredentials
from dlt_ingest.workbook.model import Job, LoadType

PASSWORD = "p@ss:w/rd%#;{x}"


def creds(spec: type, **values: Any) -> Any:
    config = spec()
    for key, value in values.items():
        setattr(config, key, value)
    return config


def job(source_type: str, **values: Any) -> Job:
    fields: dict[str, Any] = {"source_type": source_type, "source_name": "src", "table_name": "orders",
                              "load_type": LoadType.FULL, **values}
    return Job(**fields)


@pytest.mark.parametrize("source_type", ["postgresql", "oracle", "mssql", "azure_sql", "mysql", "sqlite"])
def test_every_database_type_is_registered(source_type: str) -> None:
    assert REGISTRY.get(source_type).type_name == source_type


@pytest.mark.parametrize(("source_type", "spec", "values"), [
    ("postgresql", PostgresCredentials, {"host": "db", "database": "d", "username": "u"}),
    ("oracle", OracleCredentials, {"host": "db", "service_name": "ORCL", "username": "u"}),
    ("mssql", MssqlCredentials, {"host": "db", "database": "d", "username": "u", "python_driver": "pyodbc"}),
    ("azure_sql", AzureSqlCredentials, {"host": "db", "database": "d", "username": "u",
                                        "python_driver": "mssql-python"}),
])
def test_password_with_url_special_characters_survives_the_url(source_type: str, spec: type,
                                                                 values: dict[str, Any]) -> None:
    url = REGISTRY.get(source_type).url(creds(spec, password=PASSWORD, **values))
    assert make_url(url.render_as_string(hide_password=False)).password == PASSWORD
    assert PASSWORD not in REGISTRY.get(source_type).describe_target(creds(spec, password=PASSWORD, **values))


def test_postgres_url_has_sslmode_and_default_port() -> None:
    url = REGISTRY.get("postgresql").url(creds(PostgresCredentials, host="db", database="d", username="u",
                                               password="pw", sslmode="require"))
    assert (url.drivername, url.port, dict(url.query)) == ("postgresql+psycopg2", 5432, {
        "sslmode": "require", "options": "-c TimeZone=UTC -c IntervalStyle=iso_8601 -c DateStyle=ISO "
                                         "-c extra_float_digits=3"})


@pytest.mark.parametrize(("values", "problems"), [
    ({"sslmode": "always"}, ["sslmode 'always' is not one of disable, allow, prefer, require, verify-ca, "
                             "verify-full"]),
    ({"backend": "pandas"}, ["backend 'pandas' is not one of auto, pyarrow, connectorx, adbc, duckdb"]),
    ({"sslmode": "verify-full"}, []),
])
def test_postgres_settings_are_checked(values: dict[str, Any], problems: list[str]) -> None:
    assert REGISTRY.get("postgresql").check_credentials(creds(PostgresCredentials, **values)) == problems


@pytest.mark.parametrize(("port", "ok"), [(5432, True), ("5432", True), (None, True), (1, True), (65535, True),
                                         ("abc", False), (0, False), (65536, False), (-1, False), (True, False),
                                         ("54 32", False), (5432.5, False)])
def test_a_database_port_is_checked_before_any_driver_sees_it(port: Any, ok: bool) -> None:
    from dlt_ingest.sources.sql.base import login_problems

    problems = login_problems(SimpleNamespace(port=port))
    assert problems == ([] if ok else [f"port = {port!r} is not a port number (a whole number from 1 to 65535)"])


def test_oracle_url_uses_service_name_or_sid_in_thin_mode() -> None:
    dialect = OracleDialect_oracledb(dbapi=OracleDialect_oracledb.import_dbapi())
    module = REGISTRY.get("oracle")
    by_service = module.url(creds(OracleCredentials, host="ora", service_name="ORCLPDB1", username="u",
                                  password=PASSWORD))
    by_sid = module.url(creds(OracleCredentials, host="ora", sid="ORCL", username="u", password=PASSWORD))
    assert "SERVICE_NAME=ORCLPDB1" in dialect.create_connect_args(by_service)[1]["dsn"]
    assert "SID=ORCL" in dialect.create_connect_args(by_sid)[1]["dsn"]
    assert module.engine_options(creds(OracleCredentials))["thick_mode"] is None
    assert module.describe_target(creds(OracleCredentials, host="ora", sid="ORCL")) == "ora/ORCL"


@pytest.mark.parametrize(("values", "problems"), [
    ({"service_name": "A", "sid": "B"}, ["give exactly one of service_name and sid"]),
    ({}, ["give exactly one of service_name and sid"]),
    ({"sid": "B"}, []),
])
def test_oracle_needs_exactly_one_of_service_name_and_sid(values: dict[str, Any], problems: list[str]) -> None:
    assert REGISTRY.get("oracle").check_credentials(creds(OracleCredentials, **values)) == problems


def test_oracle_job_needs_schema_name() -> None:
    assert REGISTRY.get("oracle").check_job(job("oracle")) == [
        ("schema_name", "is empty but source_type is oracle: name the table's owner (e.g. HR)")]
    assert REGISTRY.get("oracle").check_job(job("oracle", schema_name="HR")) == []


SQLSERVER = {"host": "sql.example", "database": "sales", "username": "u", "password": PASSWORD}


@pytest.mark.parametrize(("values", "expected"), [
    ({}, "DRIVER={ODBC Driver 18 for SQL Server};Server=sql.example,1433;Database=sales;UID=u;"
         "PWD={p@ss:w/rd%#;{x}}};Encrypt=yes;TrustServerCertificate=no"),
    ({"driver": ODBC_17, "encrypt": False, "trust_server_certificate": True, "port": 14330},
     "DRIVER={ODBC Driver 17 for SQL Server};Server=sql.example,14330;Database=sales;UID=u;"
     "PWD={p@ss:w/rd%#;{x}}};Encrypt=no;TrustServerCertificate=yes"),
    ({"instance": "SQLEXPRESS"}, "DRIVER={ODBC Driver 18 for SQL Server};Server=sql.example\\SQLEXPRESS;"
                                 "Database=sales;UID=u;PWD={p@ss:w/rd%#;{x}}};Encrypt=yes;TrustServerCertificate=no"),
    ({"trusted_connection": True, "username": None, "password": None},
     "DRIVER={ODBC Driver 18 for SQL Server};Server=sql.example,1433;Database=sales;"
     "Trusted_Connection=Yes;Encrypt=yes;TrustServerCertificate=no"),
])
def test_mssql_odbc_connection_string_through_pyodbc(values: dict[str, Any], expected: str) -> None:
    credentials = creds(MssqlCredentials, **{**SQLSERVER, **values})
    url = REGISTRY.get("mssql").url(credentials, python_driver="pyodbc")
    assert MSDialect_pyodbc().create_connect_args(url)[0][0] == expected


def test_mssql_through_mssql_python_uses_its_bundled_driver() -> None:
    url = REGISTRY.get("mssql").url(creds(MssqlCredentials, **SQLSERVER), python_driver="mssql-python")
    assert url.drivername == "mssql+mssqlpython"
    assert MSDialect_mssqlpython().create_connect_args(url)[0][0] == (
        "Server=sql.example,1433;Database=sales;UID=u;PWD={p@ss:w/rd%#;{x}}};Encrypt=yes;TrustServerCertificate=no")


@pytest.mark.parametrize(("driver", "odbc", "has_mssql_python", "expected"), [
    (ODBC_18, [ODBC_18], True, "pyodbc"),
    (ODBC_18, [], True, "mssql-python"),
    (ODBC_17, [ODBC_17, ODBC_18], False, "pyodbc"),
])
def test_mssql_python_driver_choice(driver: str, odbc: list[str], has_mssql_python: bool, expected: str) -> None:
    credentials = creds(MssqlCredentials, driver=driver)
    assert pick_python_driver(credentials, lambda: odbc, lambda: has_mssql_python) == expected


def test_mssql_without_any_driver_says_how_to_install_one() -> None:
    with pytest.raises(SourceError, match=r"'ODBC Driver 17 for SQL Server' is not available: install the mssql"):
        pick_python_driver(creds(MssqlCredentials, driver=ODBC_17), lambda: [], lambda: True)


@pytest.mark.parametrize(("values", "problems"), [
    ({"driver": "SQL Server"}, ["driver 'SQL Server' is not one of ODBC Driver 18 for SQL Server, "
                                "ODBC Driver 17 for SQL Server"]),
    ({"python_driver": "mssql-python", "driver": ODBC_17},
     ["python_driver mssql-python always uses ODBC Driver 18 for SQL Server"]),
    ({"password": None}, ["give username and password, or set trusted_connection = true"]),
    ({"password": None, "trusted_connection": True}, []),
])
def test_mssql_settings_are_checked(values: dict[str, Any], problems: list[str]) -> None:
    assert REGISTRY.get("mssql").check_credentials(creds(MssqlCredentials, **{**SQLSERVER, **values})) == problems


@pytest.mark.parametrize("authentication", ["ActiveDirectoryPassword", "ActiveDirectoryServicePrincipal"])
def test_azure_sql_forces_encryption_and_passes_entra_authentication(authentication: str) -> None:
    credentials = creds(AzureSqlCredentials, **SQLSERVER, authentication=authentication)
    assert REGISTRY.get("azure_sql").check_credentials(credentials) == []
    url = REGISTRY.get("azure_sql").url(credentials, python_driver="pyodbc")
    assert MSDialect_pyodbc().create_connect_args(url)[0][0] == (
        "DRIVER={ODBC Driver 18 for SQL Server};Server=sql.example,1433;Database=sales;UID=u;"
        f"PWD={{p@ss:w/rd%#;{{x}}}}}};Encrypt=yes;TrustServerCertificate=no;Authentication={authentication}")


def test_azure_sql_default_identity_takes_no_password() -> None:
    credentials = creds(AzureSqlCredentials, host="x.database.windows.net", database="d",
                        authentication="ActiveDirectoryDefault")
    assert REGISTRY.get("azure_sql").check_credentials(credentials) == []
    url = REGISTRY.get("azure_sql").url(credentials, python_driver="mssql-python")
    assert MSDialect_mssqlpython().create_connect_args(url)[0][0] == (
        "Server=x.database.windows.net,1433;Database=d;Encrypt=yes;TrustServerCertificate=no;"
        "Authentication=ActiveDirectoryDefault")


@pytest.mark.parametrize(("values", "problem"), [
    ({"encrypt": False}, "Azure SQL always encrypts and checks the server certificate: remove encrypt and "
                         "trust_server_certificate"),
    ({"authentication": "ActiveDirectoryIntegrated"}, "authentication 'ActiveDirectoryIntegrated' is not one of "
     "ActiveDirectoryPassword, ActiveDirectoryServicePrincipal, ActiveDirectoryDefault"),
    ({"trusted_connection": True}, "trusted_connection does not exist on Azure SQL: use authentication instead"),
])
def test_azure_sql_settings_are_checked(values: dict[str, Any], problem: str) -> None:
    credentials = creds(AzureSqlCredentials, **{**SQLSERVER, **values})
    assert problem in REGISTRY.get("azure_sql").check_credentials(credentials)


ORDERS = sa.Table("Order Lines", sa.MetaData(), sa.Column("id", sa.Integer),
                  sa.Column("updated_at", sa.DateTime(timezone=True)), schema="Sales")
CUTOFF = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def _incremental_query(dialect: Any, literal: bool) -> tuple[str, dict[str, Any]]:
    """The SELECT dlt's loaders build for our incremental settings, compiled for `dialect`: with literal
    values as connectorx receives it, or with bound parameters as the SQLAlchemy-based pyarrow backend sends it."""
    incremental = build_incremental(
        job("postgresql", load_type=LoadType.INCREMENTAL, watermark_column="updated_at",
            last_watermark="2024-05-01T12:00:00+00:00"),
        [{"name": "id", "type": sa.Integer()}, {"name": "updated_at", "type": sa.DateTime(timezone=True)}])
    loader = TableLoader(None, "pyarrow", ORDERS, {}, chunk_size=10)  # type: ignore[arg-type]
    loader.incremental = incremental
    loader.cursor_column = ORDERS.c.updated_at
    loader.last_value, loader.end_value = incremental.initial_value, None
    loader.row_order, loader.on_cursor_value_missing = incremental.row_order, incremental.on_cursor_value_missing
    loader.range_start, loader.range_end = incremental.range_start, incremental.range_end
    compiled = loader.make_query().compile(dialect=dialect, compile_kwargs={"literal_binds": literal})
    return " ".join(str(compiled).split()), dict(compiled.params)


def test_incremental_query_for_connectorx_on_postgres_has_the_instant_with_its_zone() -> None:
    assert _incremental_query(postgresql.dialect(), literal=True)[0] == (
        'SELECT "Sales"."Order Lines".id, "Sales"."Order Lines".updated_at FROM "Sales"."Order Lines" WHERE '
        '"Sales"."Order Lines".updated_at >= \'2024-05-01 12:00:00+00:00\' AND "Sales"."Order Lines".updated_at '
        'IS NOT NULL ORDER BY "Sales"."Order Lines".updated_at ASC')


@pytest.mark.parametrize(("dialect", "expected"), [
    (pg_psycopg2.dialect(paramstyle="pyformat"), 'SELECT "Sales"."Order Lines".id, "Sales"."Order Lines".updated_at '
     'FROM "Sales"."Order Lines" WHERE "Sales"."Order Lines".updated_at >= %(updated_at_1)s AND "Sales"."Order '
     'Lines".updated_at IS NOT NULL ORDER BY "Sales"."Order Lines".updated_at ASC'),
    (oracle.dialect(), 'SELECT "Sales"."Order Lines".id, "Sales"."Order Lines".updated_at FROM "Sales"."Order '
     'Lines" WHERE "Sales"."Order Lines".updated_at >= :updated_at_1 AND "Sales"."Order Lines".updated_at IS NOT '
     'NULL ORDER BY "Sales"."Order Lines".updated_at ASC'),
    (MSDialect_pyodbc(paramstyle="qmark"),
     'SELECT [Sales].[Order Lines].id, [Sales].[Order Lines].updated_at FROM [Sales].[Order Lines] '
     'WHERE [Sales].[Order Lines].updated_at >= ? AND [Sales].[Order Lines].updated_at IS NOT NULL ORDER BY '
     '[Sales].[Order Lines].updated_at ASC'),
    (mysql.dialect(paramstyle="format"),
     'SELECT `Sales`.`Order Lines`.id, `Sales`.`Order Lines`.updated_at FROM `Sales`.`Order Lines` '
     'WHERE `Sales`.`Order Lines`.updated_at >= %s AND `Sales`.`Order Lines`.updated_at IS NOT NULL ORDER BY '
     '`Sales`.`Order Lines`.updated_at ASC'),
])
def test_incremental_query_is_closed_range_ordered_and_skips_nulls(dialect: Any, expected: str) -> None:
    sql, params = _incremental_query(dialect, literal=False)
    assert sql == expected
    assert params == {"updated_at_1": CUTOFF}


@pytest.mark.parametrize(("value", "column_type", "expected"), [
    ("2024-05-01T12:00:00", sa.DateTime(timezone=True), CUTOFF),
    ("2024-05-01T14:00:00+02:00", sa.DateTime(timezone=True), CUTOFF.astimezone(timezone.utc)),
    ("2024-05-01T12:00:00+02:00", sa.DateTime(), datetime(2024, 5, 1, 12, 0)),
    ("2024-05-01", sa.Date(), date(2024, 5, 1)),
    ("42", sa.BigInteger(), 42),
    ("12.50", sa.Numeric(10, 2), Decimal("12.50")),
    ("abc", sa.String(), "abc"),
])
def test_last_watermark_is_converted_to_the_column_type(value: str, column_type: Any, expected: Any) -> None:
    converted = convert_watermark(job("postgresql", last_watermark=value, watermark_column="c"), column_type)
    assert converted == expected and type(converted) is type(expected)


def test_last_watermark_that_does_not_fit_names_the_job_and_column() -> None:
    with pytest.raises(SourceError) as error:
        convert_watermark(job("postgresql", last_watermark="yesterday", watermark_column="updated_at"),
                          sa.DateTime())
    assert str(error.value).startswith("src.orders: last_watermark 'yesterday' does not fit column 'updated_at'")


class _Compiling:
    """An engine stand-in for SQL that is only compiled: delete detection builds its queries from the dialect."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect


def _keys_of(dialect: Any, *columns: sa.Column[Any]) -> Any:
    from dlt_ingest.sources.sql.contract import TableContract
    from dlt_ingest.sources.sql.keys import SqlKeys

    table = sa.Table("orders", sa.MetaData(schema="sales"), *columns, sa.Column("updated_at", sa.DateTime()))
    contract = TableContract.of("orders", list(table.columns), dialect)
    key = tuple(c.name for c in columns)
    keys_job = job(dialect.name, schema_name="sales", load_type=LoadType.INCREMENTAL, watermark_column="updated_at",
                   primary_key=key, detect_deletes=True)
    return SqlKeys(_Compiling(dialect), table, contract, keys_job, lambda action: action())


def _sql(query: Any, dialect: Any) -> str:
    return " ".join(str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).split())


@pytest.mark.parametrize(("dialect", "expected"), [
    (OracleDialect_oracledb(), ["LOWER(RAWTOHEX(STANDARD_HASH(REPLACE(REPLACE(TO_CHAR(sales.orders.code), '\\', "
                                "'\\\\'), '|', '\\|') || '|' || TO_CHAR(sales.orders.id), 'MD5')))",
                                "sum(TO_NUMBER(SUBSTR(k.m, 1, 16), 'XXXXXXXXXXXXXXXX'))", "GROUP BY SUBSTR(k.m, 17, 2)",
                                "sales.orders.updated_at IS NOT NULL"]),
    (MSDialect_pyodbc(), ["HASHBYTES('MD5', CAST((REPLACE(REPLACE(CAST(sales.orders.code AS NVARCHAR(MAX)), '\\', "
                          "'\\\\'), '|', '\\|') + '|' + CAST(sales.orders.id AS VARCHAR(40))) COLLATE "
                          "Latin1_General_100_BIN2_UTF8 AS VARCHAR(MAX)))",
                          "sum(CAST(CONVERT(BIGINT, CONVERT(VARBINARY(8), SUBSTRING(k.m, 1, 16), 2)) AS "
                          "DECIMAL(38, 0)))",
                          "GROUP BY SUBSTRING(k.m, 17, 2)"]),
])
def test_delete_detection_digests_keys_in_oracle_and_sql_server_sql(dialect: Any, expected: list[str]) -> None:
    keys = _keys_of(dialect, sa.Column("code", sa.String(20), primary_key=True),
                    sa.Column("id", sa.Integer(), primary_key=True))
    text = _sql(keys.digest_query(Buckets(digits=2)), dialect)
    for part in expected:
        assert part in text


@pytest.mark.parametrize(("dialect", "lookup"), [
    (OracleDialect_oracledb(), "WHERE sales.orders.code = 'a|b' AND sales.orders.id = 7 OR sales.orders.code = "
                               "'x' AND sales.orders.id = -1"),
    (MSDialect_pyodbc(), "WHERE sales.orders.code = 'a|b' AND sales.orders.id = 7 OR sales.orders.code = 'x' AND "
                         "sales.orders.id = -1"),
    (postgresql.dialect(), "WHERE (sales.orders.code, sales.orders.id) IN (('a|b', 7), ('x', -1))"),
    (mysql.dialect(), "WHERE (sales.orders.code, sales.orders.id) IN (('a|b', 7), ('x', -1))"),
])
def test_delete_detection_looks_keys_up_by_the_primary_key(dialect: Any, lookup: str) -> None:
    keys = _keys_of(dialect, sa.Column("code", sa.String(20), primary_key=True),
                    sa.Column("id", sa.Integer(), primary_key=True))
    assert lookup in _sql(keys.present_query([("a|b", 7), ("x", -1)]), dialect)


@pytest.mark.parametrize("dialect", [OracleDialect_oracledb(), MSDialect_pyodbc()])
def test_delete_detection_scans_only_the_buckets_asked_for(dialect: Any) -> None:
    keys = _keys_of(dialect, sa.Column("id", sa.Integer(), primary_key=True))
    text = _sql(keys.scan_query(Buckets(digits=2), ["0a", "ff", "x'; DROP TABLE orders; --"]), dialect)
    assert text.endswith("(k.m, 17, 2) IN ('0a', 'ff')")  # anything but hex digits is never a literal


@pytest.mark.parametrize(("dialect", "column", "kinds"), [
    (OracleDialect_oracledb(), sa.Column("day", oracle.DATE(), primary_key=True), "integer, text"),
    (MSDialect_pyodbc(), sa.Column("score", sa.Float(), primary_key=True), "integer, text, date, timestamp"),
])
def test_delete_detection_refuses_a_key_it_cannot_print_alike_in_the_lake(dialect: Any, column: Any,
                                                                          kinds: str) -> None:
    with pytest.raises(RowMismatch) as refused:
        _keys_of(dialect, column)
    assert refused.value.workbook_column == "detect_deletes"
    assert f"keys of these kinds can be compared: {kinds}; set detect_deletes to N" in str(refused.value)


@pytest.mark.parametrize("dialect", [OracleDialect_oracledb(), MSDialect_pyodbc()], ids=["oracle", "mssql"])
def test_oracle_and_sql_server_cut_even_integer_keys_by_md5(dialect: Any) -> None:
    keys = _keys_of(dialect, sa.Column("id", sa.BigInteger(), primary_key=True))
    assert not keys.by_range
    assert "GROUP BY SUBSTR" in _sql(keys.digest_query(Buckets(digits=2)), dialect).upper()


def test_sqlite_cuts_integer_keys_by_range_as_python_does(tmp_path: Any) -> None:
    from dlt_ingest.sources.keys import BucketDigest, mix
    from dlt_ingest.sources.sql.contract import TableContract
    from dlt_ingest.sources.sql.keys import SqlKeys, register_sqlite_functions

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    sa.event.listen(engine, "connect", register_sqlite_functions)
    table = sa.Table("orders", sa.MetaData(), sa.Column("id", sa.BigInteger(), primary_key=True),
                     sa.Column("updated_at", sa.DateTime()))
    table.create(engine)
    keys = [-2**63, -2**62 - 5, -1, 0, 1, 5, 2**31, 2**62 + 1, 2**63 - 1]
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": k, "updated_at": datetime(2024, 1, 1)} for k in keys])
        connection.execute(table.insert(), [{"id": 7, "updated_at": None}])  # never in the lake: left out
    contract = TableContract.of("orders", list(table.columns), engine.dialect)
    source = SqlKeys(engine, table, contract, job("sqlite", load_type=LoadType.INCREMENTAL,
                                                  watermark_column="updated_at", primary_key=("id",),
                                                  detect_deletes=True), lambda action: action())
    assert source.by_range and source.key_range() == (-2**63, 2**63 - 1)
    for shift in (0, 3, 62, 63):
        expected: dict[str, list[int]] = {}
        for key in keys:
            expected.setdefault(str(key >> shift), []).append(key)
        assert source.digest(Buckets(shift=shift)) == {
            b: BucketDigest(len(ks), sum(ks) % 2**64, sum(mix(k) for k in ks)) for b, ks in expected.items()}
    assert sorted(int(t) for batch in source.scan(Buckets(shift=62), ["-2", "1"]) for t in batch) == \
        [-2**63, -2**62 - 5, 2**62 + 1, 2**63 - 1]
