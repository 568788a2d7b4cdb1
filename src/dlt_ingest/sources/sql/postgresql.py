"""PostgreSQL through psycopg2; DuckDB's scanner (FULL snapshots), ADBC and connectorx read Arrow directly
where the type contract allows.

Every session reads in UTC with ISO 8601 intervals and dates and round-trip floats, so the server's text
of a value does not depend on the server's or the user's settings. psycopg2 would turn 'infinity' into
9999-12-31 and 24:00:00 into 00:00:00 without a word: its casters for those types refuse them instead.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.sources.sql_database.helpers import BaseTableLoader, ConnectorXTableLoader
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL

from dlt_ingest.sources.sql.base import BACKENDS, CONNECT_TIMEOUT_SECONDS, BackgroundWork, DatabaseSource
from dlt_ingest.sources.sql.contract import DriverRefusal, TableContract
from dlt_ingest.sources.sql.pg_adbc import AdbcTableLoader, sql_text
from dlt_ingest.sources.sql.pg_duckdb import DuckDbTableLoader, SnapshotStart, duckdb_available
from dlt_ingest.sources.sql.pg_login import PgLogin
from dlt_ingest.sources.sql.session import DatabaseSession
from dlt_ingest.sources.sql.types import ADBC, CONNECTORX, DUCKDB, PYARROW
from dlt_ingest.workbook.model import Job

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@configspec
class PostgresCredentials(BaseConfiguration):
    host: str = None  # type: ignore[assignment]
    port: int = 5432
    database: str = None  # type: ignore[assignment]
    username: str = None  # type: ignore[assignment]
    password: str = None  # type: ignore[assignment]
    sslmode: str | None = None  # disable, allow, prefer, require, verify-ca, verify-full
    # auto (FULL: duckdb, else adbc; INCREMENTAL: adbc; pyarrow without them), pyarrow, connectorx, adbc, duckdb
    backend: str = "auto"
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS
    parallel_reads: int = 2  # duckdb/adbc: connections (and DuckDB threads) reading a FULL table at once


# Below this on-disk size a read through the pyarrow backend (FULL, or any window of it) costs less than
# DuckDB's or ADBC's set-up (~200 ms of CPU per job for DuckDB: extension, logins, threads); see performance.md.
SMALL_TABLE_BYTES = 4 * 1024 * 1024


class PostgresSession(DatabaseSession[PostgresCredentials]):
    """Also the on-disk size of every table the run reads, from one catalog query when first asked."""

    def __init__(self, credentials: PostgresCredentials, create_engine: Callable[[], sa.Engine],
                 jobs: Sequence[Job]) -> None:
        super().__init__(credentials, create_engine, jobs)
        self._sizes: dict[tuple[str | None, str], int] | None = None
        self._sizes_lock = threading.Lock()

    def table_bytes(self, job: Job) -> int | None:
        """The table's size (pg_table_size), or None when unknown (a view, a partitioned table)."""
        with self._sizes_lock:
            if self._sizes is None:
                self._sizes = self._read_sizes()
        return self._sizes.get((job.schema_name or None, job.table_name))

    def _read_sizes(self) -> dict[tuple[str | None, str], int]:
        names = sorted({table for tables in self.wanted.values() for table in tables})
        query = sa.text("SELECT n.nspname, n.nspname = current_schema(), c.relname, pg_table_size(c.oid) "
                        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind IN ('r', 'm') AND c.relname = ANY(:names)")
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"names": names}).all()
        sizes: dict[tuple[str | None, str], int] = {}
        for schema, is_default, table, size in rows:
            sizes[(str(schema), str(table))] = int(size)
            if is_default:
                sizes[(None, str(table))] = int(size)
        return sizes


_OIDS = {"date": 1082, "time": 1083, "timestamp": 1114, "timestamptz": 1184}


def _refusing_caster(kind: str, standard: Any) -> Any:
    import psycopg2.extensions

    def cast(value: str | None, cursor: Any) -> Any:
        if value is not None and (value.endswith("infinity") or value.startswith("24:")):
            raise DriverRefusal(kind, value)
        try:
            return standard(value, cursor)
        except ValueError:  # a year outside 1..9999 (BC, or beyond): Python has no date for it
            raise DriverRefusal(kind, str(value)) from None

    return psycopg2.extensions.new_type((_OIDS[kind],), f"DLT_INGEST_{kind.upper()}", cast)


def refuse_unrepresentable(dbapi_connection: Any, _: Any) -> None:
    """SQLAlchemy `connect` event: psycopg2 casters that refuse 'infinity' and 24:00:00 instead of changing them."""
    import psycopg2.extensions
    import psycopg2.extras

    standard = {"date": psycopg2.extensions.PYDATE, "time": psycopg2.extensions.PYTIME,
                "timestamp": psycopg2.extensions.PYDATETIME, "timestamptz": psycopg2.extensions.PYDATETIMETZ}
    for kind, caster in standard.items():
        psycopg2.extensions.register_type(_refusing_caster(kind, caster), dbapi_connection)


class ConnectorxLoader(ConnectorXTableLoader):
    """dlt's connectorx loader, connecting with the login's libpq URI (the session options included), its query
    sent as `sql_text` (connectorx binds nothing: psycopg2's doubled `%` would reach the server)."""

    login: PgLogin | None = None  # set by the source

    def compile_query(self, query: Any) -> str:
        return sql_text(query, self.engine)

    def get_connection_url(self) -> str:
        assert self.login is not None, "the PostgreSQL source sets the login"
        return self.login.libpq_uri()


class PostgresSource(DatabaseSource[PostgresCredentials]):
    type_name = "postgresql"
    credentials_spec = PostgresCredentials
    backends = (PYARROW, CONNECTORX, ADBC, DUCKDB)

    def url(self, credentials: PostgresCredentials) -> URL:
        return PgLogin.from_credentials(credentials).sqlalchemy_url()

    def engine_options(self, credentials: PostgresCredentials) -> dict[str, Any]:
        return {"connect_args": {"connect_timeout": int(credentials.connect_timeout)}}

    def reflect_table(self, job: Job, source_session: DatabaseSession[PostgresCredentials], target: str
                      ) -> sa.Table:
        """SQLAlchemy reflects a domain's base type without its precision (numeric(10,2) becomes numeric): the
        catalog's own spelling puts it back."""
        table = super().reflect_table(job, source_session, target)
        engine = source_session.engine
        domains = [c for c in table.columns if isinstance(c.type, pg.DOMAIN)]
        if domains:
            query = sa.text(
                "SELECT a.attname, format_type(t.typbasetype, t.typtypmod) FROM pg_catalog.pg_attribute a "
                "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid WHERE a.attrelid = CAST(:table AS regclass) "
                "AND t.typtype = 'd' AND a.attnum > 0 AND NOT a.attisdropped")
            with engine.connect() as connection:
                bases: dict[str, str] = {str(name): str(spelled) for name, spelled in
                                         connection.execute(query, {"table": qualified_name(table)}).all()}
            for column in domains:
                domain: Any = column.type
                domain.data_type = base_type(bases.get(column.name, ""), domain.data_type)
        return table

    def table_contract(self, job: Job, table: sa.Table, selected: list[sa.Column[Any]], dialect: Any
                       ) -> TableContract:
        """DuckDB's scanner folds column names to one case: of `"ID"` and `id` it reads `"ID"` for either, and
        it would land one column's values under the other's name; ADBC and the others read such a table."""
        contract = super().table_contract(job, table, selected, dialect)
        folded: dict[str, list[str]] = {}
        for column in table.columns:
            folded.setdefault(column.name.casefold(), []).append(column.name)
        twins = [name for names in folded.values() if len(names) > 1 for name in names]
        if twins:
            contract.withhold(DUCKDB, twins, "another column's name differs only in case")
        return contract

    def create_engine(self, credentials: PostgresCredentials) -> sa.Engine:
        engine = super().create_engine(credentials)
        sa.event.listen(engine, "connect", refuse_unrepresentable)
        return engine

    def check_credentials(self, credentials: PostgresCredentials) -> list[str]:
        problems = []
        if credentials.sslmode and credentials.sslmode not in SSL_MODES:
            problems.append(f"sslmode '{credentials.sslmode}' is not one of {', '.join(SSL_MODES)}")
        if credentials.backend not in BACKENDS:
            problems.append(f"backend '{credentials.backend}' is not one of {', '.join(BACKENDS)}")
        return problems

    def open_session(self, credentials: PostgresCredentials, jobs: Sequence[Job]) -> PostgresSession:
        return PostgresSession(credentials, lambda: self.create_engine(credentials), jobs)

    def available_backends(self, source_session: DatabaseSession[PostgresCredentials], job: Job
                           ) -> Sequence[str]:
        """DuckDB's COPY for FULL snapshots (incremental windows stream through ADBC), then ADBC, then the
        pyarrow backend; a small table through pyarrow first, whose set-up costs nothing. connectorx is never
        chosen: ADBC reads everything it reads, and more, exactly."""
        found = []
        if not job.is_incremental and duckdb_available():
            found.append(DUCKDB)
        if importlib.util.find_spec("adbc_driver_postgresql") is not None:
            found.append(ADBC)
        if isinstance(source_session, PostgresSession):  # a small table has no large window either
            size = source_session.table_bytes(job)
            if size is not None and size < SMALL_TABLE_BYTES:
                return [PYARROW, *found]
        return [*found, PYARROW]

    def reader_name(self, backend: str, job: Job) -> str:
        return "adbc (duckdb reads FULL snapshots only)" if self.reader_of(backend, job) != backend else backend

    def reader_of(self, backend: str, job: Job) -> str:
        """A forced duckdb reads FULL snapshots only: its incremental windows stream through ADBC
        (`DuckDbTableLoader`), so ADBC's reads are the ones the contract checks."""
        return ADBC if backend == DUCKDB and job.is_incremental else backend

    def start_background_work(self, job: Job, engine: sa.Engine, credentials: PostgresCredentials, backend: str,
                              contract: TableContract) -> BackgroundWork | None:
        """A FULL DuckDB snapshot starts its DuckDB session, its snapshot and the checks that share it."""
        if backend != DUCKDB or job.is_incremental or not duckdb_available():
            return None
        return SnapshotStart(engine, job.schema_name, job.table_name, PgLogin.from_credentials(credentials),
                             _readers(credentials), contract.needs_nan_check).start()

    def loader_class(self, backend: str) -> type[BaseTableLoader]:
        loaders = {ADBC: AdbcTableLoader, DUCKDB: DuckDbTableLoader, CONNECTORX: ConnectorxLoader}
        return loaders.get(backend) or super().loader_class(backend)

    def loader_settings(self, credentials: PostgresCredentials) -> dict[str, Any]:
        return {"readers": _readers(credentials), "login": PgLogin.from_credentials(credentials)}


_TYPE_WITH_ARGUMENTS = re.compile(r"^([a-z ]+?)(?:\((\d+)(?:,(\d+))?\))?$")


def base_type(spelled: str, reflected: Any) -> Any:
    """The SQLAlchemy type of a domain's base type as `format_type` spells it (`numeric(10,2)`)."""
    found = _TYPE_WITH_ARGUMENTS.match(spelled.strip())
    if not found:
        return reflected
    name, first, second = found.group(1), found.group(2), found.group(3)
    if name == "numeric":
        return sa.Numeric(int(first), int(second or 0)) if first else sa.Numeric()
    if name in ("character varying", "character") and first:
        return (pg.VARCHAR if name == "character varying" else pg.CHAR)(int(first))
    kind = pg.base.ischema_names.get(name)
    return kind() if kind is not None else reflected


def qualified_name(table: sa.Table) -> str:
    quote = pg.dialect().identifier_preparer.quote
    return f"{quote(table.schema)}.{quote(table.name)}" if table.schema else quote(table.name)


def _readers(credentials: PostgresCredentials) -> int:
    return max(1, int(credentials.parallel_reads))
