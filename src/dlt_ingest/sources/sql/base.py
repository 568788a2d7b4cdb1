"""What every SQL source shares: an engine from credentials, a checked table, and dlt's `sql_table`.

A subclass only says how to build its `sqlalchemy.engine.URL` (never by string formatting, so any
character in a password works) and which backend extracts it fastest while keeping values exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from dlt.sources.sql_database.helpers import BaseTableLoader, ConnectorXTableLoader, TableLoader
from sqlalchemy.engine import URL, Engine

from dlt_ingest.errors import SourceError, first_line
from dlt_ingest.redaction import redact
from dlt_ingest.sources.base import PreparedSource, RowCounter, SourceModule, TCredentials
from dlt_ingest.sources.sql.cursor import build_incremental, count_nulls, count_query
from dlt_ingest.sources.sql.types import exact_table, exact_type
from dlt_ingest.workbook.model import Job

DEFAULT_CHUNK_SIZE = 50_000
CONNECT_TIMEOUT_SECONDS = 30
BACKENDS = ("auto", "pyarrow", "connectorx", "adbc", "duckdb")

log = logging.getLogger("dlt_ingest.sources")


class BackgroundWork(Protocol):
    """Work a read starts early, running beside dlt's set-up (see `DatabaseSource.start_background_work`)."""

    def stop(self) -> None:
        """Cancel what still runs and wait for it."""

    def counted_rows(self) -> int | None:
        """The table's row count, if the work took one for a read that completed."""


class DatabaseSource(SourceModule[TCredentials]):
    backend: ClassVar[str] = "pyarrow"
    backends: ClassVar[tuple[str, ...]] = ("pyarrow",)  # what a workbook row may force

    def url(self, credentials: TCredentials) -> URL:
        raise NotImplementedError

    def engine_options(self, credentials: TCredentials) -> dict[str, Any]:
        return {}

    def choose_backend(self, credentials: TCredentials, columns: list[dict[str, Any]]) -> str:
        """The extraction backend for this table; a dialect may pick a faster one when types allow."""
        return self.backend

    def check_credentials(self, credentials: TCredentials) -> list[str]:
        """Problems with the resolved settings (wrong combinations), each saying what is wrong."""
        return []

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        wanted = str(job.extra.get("backend") or "auto")
        if wanted != "auto" and wanted not in self.backends:
            return [("backend", f"'{wanted}' is not available for {self.type_name} sources: use auto or one of "
                                f"{', '.join(self.backends)}")]
        return []

    def describe_target(self, credentials: TCredentials) -> str:
        url = self.url(credentials)
        return f"{url.host or ''}{'/' + url.database if url.database else ''}" or url.drivername

    def create_engine(self, credentials: TCredentials) -> Engine:
        return sa.create_engine(self.url(credentials), **self.engine_options(credentials))

    def test_connection(self, credentials: TCredentials) -> None:
        engine = self.create_engine(credentials)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()

    def start_background_work(self, job: Job, engine: Engine, credentials: TCredentials,
                              backend: str) -> BackgroundWork | None:
        """Work the read with `backend` needs before it starts, begun as soon as the backend is known on
        its own threads and connections, so it runs while dlt sets up (none by default). The table
        loader gets it as `background_work`; the source stops it when the job ends."""
        return None

    def loader_class(self, backend: str) -> type[BaseTableLoader]:
        """dlt's table loader for `backend`; a dialect with its own fast path returns its loader."""
        return ConnectorXTableLoader if backend == "connectorx" else TableLoader

    def loader_settings(self, credentials: TCredentials) -> dict[str, Any]:
        """Class attributes for the table loader (e.g. how many parallel reads the fast path may open)."""
        return {}

    def table_adapter(self, backend: str) -> Callable[[sa.Table], None]:
        """dlt `table_adapter_callback` for `backend`: the reflected table as the lake should see it."""
        return exact_table

    def table_resource(self, job: Job, engine: Engine, backend: str, incremental: Any, target: str,
                       settings: dict[str, Any] | None = None, metadata: sa.MetaData | None = None) -> Any:
        """dlt's `sql_table` with exact types and a loader that names the job and host when reading fails;
        `metadata` holding the reflected table spares dlt a second reflection."""
        kwargs: dict[str, Any] = {"return_type": "arrow_stream"} if backend == "connectorx" else {}
        return sql_table(
            credentials=engine,
            table=job.table_name,
            schema=job.schema_name,
            metadata=metadata,
            incremental=incremental,
            chunk_size=job.chunk_size or DEFAULT_CHUNK_SIZE,
            backend="pyarrow" if backend in ("adbc", "duckdb") else backend,  # type: ignore[arg-type]
            backend_kwargs=kwargs,
            reflection_level="full_with_precision",
            type_adapter_callback=exact_type,
            table_adapter_callback=self.table_adapter(backend),
            primary_key=list(job.primary_key) or None,  # type: ignore[arg-type]
            write_disposition="append",
            table_loader_class=guarded_loader(self.loader_class(backend), job.name, target, settings),
        )

    @contextmanager
    def prepare(self, job: Job, credentials: TCredentials) -> Iterator[PreparedSource]:
        problems = self.check_credentials(credentials)
        if problems:
            raise SourceError(
                f"{job.name}: settings of source '{job.source_name}': {'; '.join(problems)}: fix them under "
                f"[sources.{job.source_name}] in .dlt/secrets.toml (see docs/sources.md)."
            )
        engine = self.create_engine(credentials)
        target = self.describe_target(credentials)
        background: BackgroundWork | None = None
        try:
            table = self._reflect_table(job, engine, target)
            columns = column_dicts(table)
            warnings: list[str] = []
            incremental = build_incremental(job, columns)
            if incremental is not None:
                nulls = guard(job, target, lambda: count_nulls(engine, job, incremental.cursor_path))
                if nulls:
                    warnings.append(
                        f"{nulls} row(s) have a NULL {incremental.cursor_path} and can never be picked up by the "
                        f"watermark: give them a value or load this table with FULL"
                    )
            backend = self._row_backend(job) or self.choose_backend(credentials, columns)
            log.info("%s: reading with the %s backend", job.name, backend)
            settings = self.loader_settings(credentials)
            background = self.start_background_work(job, engine, credentials, backend)
            if background is not None:
                settings["background_work"] = background
            resource = self.table_resource(job, engine, backend, incremental, target, settings, table.metadata)
            yield PreparedSource(resource, warnings, self._row_counter(job, engine, target, columns, background))
        finally:
            if background is not None:  # a job that failed before its read does not wait for the work
                background.stop()
            engine.dispose()

    def _row_backend(self, job: Job) -> str | None:
        """The workbook row's `backend` when it names one (it wins over the source's setting)."""
        wanted = str(job.extra.get("backend") or "auto")
        if wanted == "auto":
            return None
        if wanted not in self.backends:
            raise SourceError(
                f"{job.name}: backend '{wanted}' in workbook row {job.row} is not available for "
                f"{self.type_name} sources: use auto or one of {', '.join(self.backends)}."
            )
        return wanted

    def _row_counter(self, job: Job, engine: Engine, target: str, columns: list[dict[str, Any]],
                     background: BackgroundWork | None) -> RowCounter:
        """One COUNT on the table (FULL) or on the watermark window (INCREMENTAL), on the job's engine; a
        FULL read whose background work already counted the table is not scanned again."""

        def count(after: Any, until: Any) -> int:
            counted = background.counted_rows() if background is not None and not job.is_incremental else None
            if counted is not None:
                return counted
            query = count_query(job, columns, after, until)

            def run() -> int:
                with engine.connect() as connection:
                    return int(connection.execute(query).scalar() or 0)

            return int(guard(job, target, run))

        return count

    def _reflect_table(self, job: Job, engine: Engine, target: str) -> sa.Table:
        """The job's table, reflected once: its MetaData goes to dlt's `sql_table`, which looks the table
        up there instead of reflecting it a second time."""

        def reflect() -> sa.Table:
            try:
                return sa.Table(job.table_name, sa.MetaData(schema=job.schema_name), autoload_with=engine,
                                resolve_fks=False)
            except sa.exc.NoSuchTableError:
                raise SourceError(missing_table(job, target)) from None

        return guard(job, target, reflect)


def missing_table(job: Job, target: str) -> str:
    where = f"schema '{job.schema_name}'" if job.schema_name else "the connection's default schema"
    return (f"{job.name}: table '{job.table_name}' not found in {where} of {target}: check table_name "
            f"and schema_name (names are case-sensitive when quoted).")


def column_dicts(table: sa.Table) -> list[dict[str, Any]]:
    """The table's columns as SQLAlchemy's inspector lists them (name, type, nullable)."""
    return [{"name": column.name, "type": column.type, "nullable": column.nullable} for column in table.columns]


def connection_failure(job_name: str, target: str, exc: BaseException) -> SourceError:
    """One line naming the job and the host, with the driver's first line and no secret."""
    reason = redact(first_line(str(getattr(exc, "orig", None) or exc)) or type(exc).__name__)
    return SourceError(f"{job_name}: cannot read from {target}: {reason}")


def guard(job: Job, target: str, action: Any) -> Any:
    try:
        return action()
    except sa.exc.SQLAlchemyError as exc:
        raise connection_failure(job.name, target, exc) from None


def _is_read_failure(exc: BaseException) -> bool:
    """Driver, connectorx, ADBC and DuckDB errors; connectorx reports some as a Rust panic (not an `Exception`)."""
    return isinstance(exc, sa.exc.SQLAlchemyError | OSError | RuntimeError) or type(exc).__name__ in (
        "PanicException", "OperationalError", "ProgrammingError", "InternalError", "DatabaseError") or (
        type(exc).__module__.lstrip("_").startswith("duckdb"))


def guarded_loader(base: type[BaseTableLoader], job_name: str, target: str,
                   settings: dict[str, Any] | None = None) -> type[BaseTableLoader]:
    """`base` (dlt's table loader of a backend), turning a failure while reading rows into one line naming
    the job and the host."""

    class GuardedLoader(base):  # type: ignore[valid-type,misc]
        def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
            try:
                yield from super().load_rows(backend_kwargs)
            except BaseException as exc:
                if not _is_read_failure(exc):
                    raise
                raise connection_failure(job_name, target, exc) from None

    GuardedLoader.job_name = job_name  # for the loader's own log lines
    for name, value in (settings or {}).items():
        setattr(GuardedLoader, name, value)
    return GuardedLoader

