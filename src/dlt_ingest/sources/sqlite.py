"""SQLite files: the embedded demo source, and handy for local files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.engine import URL, Engine

from dlt_ingest.errors import SourceError
from dlt_ingest.sources.base import register
from dlt_ingest.sources.database import DatabaseSource


@configspec
class SqliteCredentials(BaseConfiguration):
    database: str = None  # type: ignore[assignment]  # path of the .sqlite file, relative to the folder `ingest` runs in


@register
class SqliteSource(DatabaseSource):
    type_name = "sqlite"
    credentials_spec = SqliteCredentials

    def url(self, credentials: Any) -> URL:
        return URL.create("sqlite", database=str(Path(credentials.database).expanduser().resolve()))

    def create_engine(self, credentials: Any) -> Engine:
        # SQLite would silently create an empty database for a mistyped path
        if not Path(credentials.database).expanduser().is_file():
            raise SourceError(
                f"sqlite file {credentials.database} not found: check `database` under [sources.<source_name>]"
            )
        return super().create_engine(credentials)

    def describe_target(self, credentials: Any) -> str:
        return f"sqlite file {credentials.database}"
