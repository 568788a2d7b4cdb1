"""PostgreSQL through psycopg2; ADBC or connectorx (Arrow streams) where every column type survives them exactly."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL

from dlt_ingest.config.model import Job
from dlt_ingest.sources.base import register
from dlt_ingest.sources.database import BACKENDS, CONNECT_TIMEOUT_SECONDS, BackgroundWork, DatabaseSource
from dlt_ingest.sources.pg_duckdb import SnapshotStart, duckdb_available, nullable_table, take_snapshot_count
from dlt_ingest.sources.pg_fast import adbc_keeps
from dlt_ingest.sources.sql_types import exact_table

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


@register
class PostgresSource(DatabaseSource):
    type_name = "postgresql"
    credentials_spec = PostgresCredentials
    backends = ("pyarrow", "connectorx", "adbc", "duckdb")

    def url(self, credentials: Any) -> URL:
        query = {"sslmode": credentials.sslmode} if credentials.sslmode else {}
        return URL.create(
            "postgresql+psycopg2", username=credentials.username, password=credentials.password,
            host=credentials.host, port=int(credentials.port), database=credentials.database, query=query,
        )

    def engine_options(self, credentials: Any) -> dict[str, Any]:
        return {"connect_args": {"connect_timeout": int(credentials.connect_timeout)}}

    def check_credentials(self, credentials: Any) -> list[str]:
        problems = []
        if credentials.sslmode and credentials.sslmode not in SSL_MODES:
            problems.append(f"sslmode '{credentials.sslmode}' is not one of {', '.join(SSL_MODES)}")
        if credentials.backend not in BACKENDS:
            problems.append(f"backend '{credentials.backend}' is not one of {', '.join(BACKENDS)}")
        return problems

    def start_background_work(self, job: Job, engine: sa.Engine, credentials: Any,
                              backend: str) -> BackgroundWork | None:
        """A FULL DuckDB snapshot starts its NaN check, row count and DuckDB session."""
        if backend != "duckdb" or job.is_incremental or not duckdb_available():
            return None
        settings = self.loader_settings(credentials)
        return SnapshotStart(engine, job.schema_name, job.table_name, settings["readers"],
                             settings["connect_timeout"]).start()

    def loader_settings(self, credentials: Any) -> dict[str, Any]:
        return {"readers": max(1, int(credentials.parallel_reads)), "connect_timeout": int(credentials.connect_timeout)}

    def table_adapter(self, backend: str) -> Callable[[sa.Table], None]:
        if backend != "duckdb":
            return exact_table

        def duckdb_table(table: sa.Table) -> None:
            exact_table(table)
            nullable_table(table)

        return duckdb_table

    def count_rows(self, job: Job, credentials: Any, after: Any = None, until: Any = None) -> int:
        """A FULL DuckDB snapshot counted the table on PostgreSQL as it started: no second scan."""
        if not job.is_incremental:
            counted = take_snapshot_count(self.url(credentials), job.schema_name, job.table_name)
            if counted is not None:
                return counted
        return super().count_rows(job, credentials, after, until)

    def choose_backend(self, credentials: Any, columns: list[dict[str, Any]]) -> str:
        if credentials.backend != "auto":
            return str(credentials.backend)
        if importlib.util.find_spec("adbc_driver_postgresql") is not None and adbc_keeps(columns):
            return "duckdb" if duckdb_available() else "adbc"
        if importlib.util.find_spec("connectorx") is not None and connectorx_keeps(columns):
            return "connectorx"
        return "pyarrow"
