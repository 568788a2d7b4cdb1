"""MySQL and MariaDB through PyMySQL (pure Python, no client library)."""

from __future__ import annotations

from typing import Any

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.engine import URL, Engine

from dlt_ingest.sources.sql.base import CONNECT_TIMEOUT_SECONDS, DatabaseSource
from dlt_ingest.sources.sql.types import MYSQL_SPATIAL_TYPES


@configspec
class MysqlCredentials(BaseConfiguration):
    host: str = None  # type: ignore[assignment]
    port: int = 3306
    database: str = None  # type: ignore[assignment]
    username: str = None  # type: ignore[assignment]
    password: str = None  # type: ignore[assignment]
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS


class MysqlSource(DatabaseSource[MysqlCredentials]):
    type_name = "mysql"
    credentials_spec = MysqlCredentials

    def url(self, credentials: MysqlCredentials) -> URL:
        return URL.create(
            "mysql+pymysql", username=credentials.username, password=credentials.password,
            host=credentials.host, port=int(credentials.port), database=credentials.database,
            query={"charset": "utf8mb4"},
        )

    def engine_options(self, credentials: MysqlCredentials) -> dict[str, Any]:
        """A UTC session: a TIMESTAMP column is read as its instant, whatever the server's time zone."""
        return {"connect_args": {"connect_timeout": int(credentials.connect_timeout),
                                 "init_command": "SET time_zone = '+00:00'"}}

    def create_engine(self, credentials: MysqlCredentials) -> Engine:
        """The engine's dialect (only this one) reflects the spatial types, which SQLAlchemy does not know."""
        engine = super().create_engine(credentials)
        dialect: Any = engine.dialect  # MySQL's dialect: reflection looks types up in its ischema_names
        dialect.ischema_names = {**dialect.ischema_names, **MYSQL_SPATIAL_TYPES}
        return engine
