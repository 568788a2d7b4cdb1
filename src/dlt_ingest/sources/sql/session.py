"""What the jobs of one database share during a run: one engine (one pool of logins, not a login per job)
and one catalog read per schema (not a dozen catalog queries per table).

Each job still gets its own copy of its table: the type contract adapts the copy's column types for the
read, and a retried job starts again from the catalog's types.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Generic

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dlt_ingest.sources.base import SourceSession, TCredentials
from dlt_ingest.workbook.model import Job


class DatabaseSession(SourceSession[TCredentials], Generic[TCredentials]):
    def __init__(self, credentials: TCredentials, create_engine: Callable[[], Engine], jobs: Sequence[Job]) -> None:
        super().__init__(credentials)
        self._create_engine = create_engine
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self.wanted: dict[str | None, set[str]] = {}  # schema (None: the connection's default) -> tables read
        for job in jobs:
            self.wanted.setdefault(job.schema_name or None, set()).add(job.table_name)
        self._catalogs: dict[str | None, sa.MetaData] = {}
        self._catalog_locks = {schema: threading.Lock() for schema in self.wanted}

    @property
    def engine(self) -> Engine:
        """Created on first use; a failure is not kept, so the next job (or attempt) tries again."""
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def reflected_table(self, job: Job) -> sa.Table | None:
        """The job's table from one reflection of every table the run reads in its schema, as a private
        copy; None when the run reads a single table of that schema, or the bulk read did not find it
        (the caller reflects it alone, which names what is missing)."""
        schema = job.schema_name or None
        wanted = self.wanted.get(schema, set())
        if len(wanted) < 2 or job.table_name not in wanted:
            return None
        found = self._catalog(schema).tables.get(f"{schema}.{job.table_name}" if schema else job.table_name)
        return found.to_metadata(sa.MetaData(schema=schema)) if found is not None else None

    def _catalog(self, schema: str | None) -> sa.MetaData:
        with self._catalog_locks[schema]:
            if schema not in self._catalogs:
                wanted = self.wanted[schema]
                catalog = sa.MetaData(schema=schema)
                with warnings.catch_warnings():  # a type SQLAlchemy does not know lands as the server's text
                    warnings.simplefilter("ignore", sa.exc.SAWarning)
                    catalog.reflect(self.engine, schema=schema, views=True, resolve_fks=False,
                                    only=lambda name, _: name in wanted)
                self._catalogs[schema] = catalog
            return self._catalogs[schema]
