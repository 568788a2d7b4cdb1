"""SQLite files: the embedded demo source, and handy for local files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.engine import URL

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

    def describe_target(self, credentials: Any) -> str:
        return f"sqlite file {credentials.database}"
