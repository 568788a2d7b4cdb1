"""PostgreSQL through psycopg2; ADBC or connectorx (Arrow streams) where every column type survives them exactly."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.sources.sql_database.helpers import BaseTableLoader
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL

from dlt_ingest.sources.sql.base import BACKENDS, CONNECT_TIMEOUT_SECONDS, BackgroundWork, DatabaseSource
from dlt_ingest.sources.sql.pg_adbc import AdbcTableLoader, adbc_keeps
from dlt_ingest.sources.sql.pg_duckdb import DuckDbTableLoader, SnapshotStart, duckdb_available, nullable_table
from dlt_ingest.sources.sql.pg_login import PgLogin
from dlt_ingest.sources.sql.types import exact_table
from dlt_ingest.workbook.model import Job

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# Types that connectorx 0.4 returns with the same Arrow type and value as the pyarrow backend
# (measured against PostgreSQL 15, see docs/sources.md). numeric is not here: connectorx fails on
# numeric(38,10) values with 28 integer digits and rounds an unconstrained numeric to 10 decimals;
# json/jsonb come back re-serialised; interval makes it panic.
CONNECTORX_EXACT_TYPES: tuple[type[Any], ...] = (
    sa.Integer, sa.String, sa.Boolean, sa.Date, sa.DateTime, sa.Time, sa.LargeBinary, sa.Uuid, sa.Double,
)


@configspec
class PostgresCredentials(BaseConfiguration):
    host: str = None  # type: ignore[assignment]
    port: int = 5432
    database: str = None  # type: ignore[assignment]
    username: str = None  # type: ignore[assignment]
    password: str = None  # type: ignore[assignment]
    sslmode: str | None = None  # disable, allow, prefer, require, verify-ca, verify-full
    # auto (duckdb, else adbc, else connectorx, as column types allow), pyarrow, connectorx, adbc, duckdb
    backend: str = "auto"
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS
    parallel_reads: int = 2  # duckdb/adbc: connections (and DuckDB threads) reading a FULL table at once


def connectorx_keeps(columns: list[dict[str, Any]]) -> bool:
    """True when connectorx returns every column of the table exactly as the pyarrow backend would."""
    return all(
        isinstance(c["type"], CONNECTORX_EXACT_TYPES) and not isinstance(c["type"], sa.Enum | sa.ARRAY | pg.JSON)
        for c in columns
    )


class PostgresSource(DatabaseSource[PostgresCredentials]):
    type_name = "postgresql"
    credentials_spec = PostgresCredentials
    backends = ("pyarrow", "connectorx", "adbc", "duckdb")

    def url(self, credentials: PostgresCredentials) -> URL:
        return PgLogin.from_credentials(credentials).sqlalchemy_url()

    def engine_options(self, credentials: PostgresCredentials) -> dict[str, Any]:
        return {"connect_args": {"connect_timeout": int(credentials.connect_timeout)}}

    def check_credentials(self, credentials: PostgresCredentials) -> list[str]:
        problems = []
        if credentials.sslmode and credentials.sslmode not in SSL_MODES:
            problems.append(f"sslmode '{credentials.sslmode}' is not one of {', '.join(SSL_MODES)}")
        if credentials.backend not in BACKENDS:
            problems.append(f"backend '{credentials.backend}' is not one of {', '.join(BACKENDS)}")
        return problems

    def start_background_work(self, job: Job, engine: sa.Engine, credentials: PostgresCredentials,
                              backend: str) -> BackgroundWork | None:
        """A FULL DuckDB snapshot starts its NaN check, row count and DuckDB session."""
        if backend != "duckdb" or job.is_incremental or not duckdb_available():
            return None
        return SnapshotStart(engine, job.schema_name, job.table_name, PgLogin.from_credentials(credentials),
                             _readers(credentials)).start()

    def loader_class(self, backend: str) -> type[BaseTableLoader]:
        return {"adbc": AdbcTableLoader, "duckdb": DuckDbTableLoader}.get(backend) or super().loader_class(backend)

    def loader_settings(self, credentials: PostgresCredentials) -> dict[str, Any]:
        return {"readers": _readers(credentials), "login": PgLogin.from_credentials(credentials)}

    def table_adapter(self, backend: str) -> Callable[[sa.Table], None]:
        if backend != "duckdb":
            return exact_table

        def duckdb_table(table: sa.Table) -> None:
            exact_table(table)
            nullable_table(table)

        return duckdb_table

    def choose_backend(self, credentials: PostgresCredentials, columns: list[dict[str, Any]]) -> str:
        if credentials.backend != "auto":
            return str(credentials.backend)
        if importlib.util.find_spec("adbc_driver_postgresql") is not None and adbc_keeps(columns):
            return "duckdb" if duckdb_available() else "adbc"
        if importlib.util.find_spec("connectorx") is not None and connectorx_keeps(columns):
            return "connectorx"
        return "pyarrow"


def _readers(credentials: PostgresCredentials) -> int:
    return max(1, int(credentials.parallel_reads))
