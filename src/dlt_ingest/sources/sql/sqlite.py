"""SQLite files: the embedded demo source, and handy for local files."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.engine import URL, Engine

from dlt_ingest.errors import SourceError
from dlt_ingest.settings import project_dir
from dlt_ingest.sources.sql.base import DatabaseSource
from dlt_ingest.sources.sql.keys import register_sqlite_functions
from dlt_ingest.storage import shown_path


@configspec
class SqliteCredentials(BaseConfiguration):
    database: str = None  # type: ignore[assignment]  # path of the .sqlite file, relative to the project folder


def database_file(credentials: SqliteCredentials) -> Path:
    """The database file; a relative path is taken from the project folder, wherever `ingest` runs."""
    path = Path(credentials.database).expanduser()
    return path if path.is_absolute() else project_dir() / path


class SqliteSource(DatabaseSource[SqliteCredentials]):
    type_name = "sqlite"
    credentials_spec = SqliteCredentials

    def url(self, credentials: SqliteCredentials) -> URL:
        return URL.create("sqlite", database=str(database_file(credentials).resolve()))

    def create_engine(self, credentials: SqliteCredentials) -> Engine:
        # SQLite would silently create an empty database for a mistyped path
        path = database_file(credentials)
        if not path.is_file():
            raise SourceError(
                f"sqlite file {shown_path(path)} not found: check `database` under [sources.<source_name>] (a "
                f"relative path is taken from the project folder {shown_path(project_dir()) or '.'})"
            )
        engine = super().create_engine(credentials)
        sa.event.listen(engine, "connect", register_sqlite_functions)  # delete detection's MD5 and friends
        return engine

    def describe_target(self, credentials: SqliteCredentials) -> str:
        return f"sqlite file {credentials.database}"
