"""What every SQL source shares: an engine from credentials, a checked table, and dlt's `sql_table`.

A subclass only says how to build its `sqlalchemy.engine.URL` (never by string formatting, so any
character in a password works) and which backend extracts it fastest while keeping values exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

import dlt
import sqlalchemy as sa
from dlt.extract.incremental import Incremental
from dlt.sources.sql_database import sql_table
from dlt.sources.sql_database.helpers import BaseTableLoader, ConnectorXTableLoader, TableLoader
from sqlalchemy.engine import URL, Engine

from dlt_ingest.config.model import Job, WatermarkValue
from dlt_ingest.errors import SourceError
from dlt_ingest.secrets.redaction import redact
from dlt_ingest.sources.base import PreparedSource, SourceModule
from dlt_ingest.sources.sql_types import exact_table, exact_type

DEFAULT_CHUNK_SIZE = 50_000
CONNECT_TIMEOUT_SECONDS = 30
BACKENDS = ("auto", "pyarrow", "connectorx", "adbc", "duckdb")

log = logging.getLogger("dlt_ingest.sources")

TCursorValue = TypeVar("TCursorValue")


class BackgroundWork(Protocol):
    """Work a read starts early, running beside dlt's set-up (see `DatabaseSource.start_background_work`)."""

    def stop(self) -> None:
        """Cancel what still runs and wait for it."""


class IncrementalCursor(Incremental[TCursorValue]):
    """dlt's incremental cursor, with the hashes of the rows at the boundary value kept sorted.

    dlt stores them as `list(set)`, whose order changes from one process to the next (string hashing is
    randomized). The pipeline state then looked changed after every run that had rows at the boundary,
    so even a run with nothing new wrote, normalized and uploaded a new state (0.3-0.5 s with 50,000
    boundary rows). Sorted, an unchanged state is recognized and nothing is loaded.

    Create it subscripted (`IncrementalCursor[Any](...)`): dlt re-creates an incremental from its
    `__orig_class__` when it copies one, which keeps this class.
    """

    def __call__(self, rows: Any, meta: Any = None) -> Any:
        rows = super().__call__(rows, meta)
        hashes = (self._cached_state or {}).get("unique_hashes")
        if hashes:
            hashes.sort()
        return rows


class DatabaseSource(SourceModule):
    family: ClassVar[str] = "database"
    backend: ClassVar[str] = "pyarrow"
    backends: ClassVar[tuple[str, ...]] = ("pyarrow",)  # what a workbook row may force

    def url(self, credentials: Any) -> URL:
        raise NotImplementedError

    def engine_options(self, credentials: Any) -> dict[str, Any]:
        return {}

    def choose_backend(self, credentials: Any, columns: list[dict[str, Any]]) -> str:
        """The extraction backend for this table; a dialect may pick a faster one when types allow."""
        return self.backend

    def check_credentials(self, credentials: Any) -> list[str]:
        """Problems with the resolved settings (wrong combinations), each saying what is wrong."""
        return []

    def describe_target(self, credentials: Any) -> str:
        url = self.url(credentials)
        return f"{url.host or ''}{'/' + url.database if url.database else ''}" or url.drivername

    def create_engine(self, credentials: Any) -> Engine:
        return sa.create_engine(self.url(credentials), **self.engine_options(credentials))

    def test_connection(self, credentials: Any) -> None:
        engine = self.create_engine(credentials)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()

    def build_incremental(self, job: Job, columns: list[dict[str, Any]]) -> dlt.sources.incremental[Any] | None:
        """dlt's cursor on `watermark_column`, starting at `last_watermark` in the column's own type.

        The WHERE is `>=` the last value (dlt's closed range) and dlt drops the rows it already loaded
        at exactly that value (by primary key, or by row hash without one), so rows that share the
        boundary timestamp are loaded once; rows with a NULL cursor are excluded (and counted).
        """
        if not (job.is_incremental and job.watermark_column):
            return None
        column = _find_column(job, columns)
        return IncrementalCursor[Any](
            column["name"], initial_value=convert_watermark(job, column["type"]),
            on_cursor_value_missing="exclude", row_order="asc",
        )

    def start_background_work(self, job: Job, engine: Engine, credentials: Any,
                              backend: str) -> BackgroundWork | None:
        """Work the read with `backend` needs before it starts, begun as soon as the backend is known on
        its own threads and connections, so it runs while dlt sets up (none by default). The table
        loader gets it as `background_work`; the source stops it when the job ends."""
        return None

    def loader_settings(self, credentials: Any) -> dict[str, Any]:
        """Class attributes for the table loader (e.g. how many parallel reads the fast path may open)."""
        return {}

    def table_adapter(self, backend: str) -> Callable[[sa.Table], None]:
        """dlt `table_adapter_callback` for `backend`: the reflected table as the lake should see it."""
        return exact_table

    def table_resource(self, job: Job, engine: Engine, backend: str,
                       incremental: dlt.sources.incremental[Any] | None, target: str,
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
            table_loader_class=guarded_loader(backend, job.name, target, settings),
        )

    @contextmanager
    def prepare(self, job: Job, credentials: Any) -> Iterator[PreparedSource]:
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
            table = self._reflect_table(job, engine, credentials)
            columns = column_dicts(table)
            warnings: list[str] = []
            incremental = self.build_incremental(job, columns)
            if incremental is not None:
                nulls = _guard(job, target, lambda: _count_nulls(engine, job, incremental.cursor_path))
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
            yield PreparedSource(resource, warnings, target)
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

    def count_rows(self, job: Job, credentials: Any, after: Any = None, until: Any = None) -> int:
        """Rows the extraction's filter selects now, for row-count reconciliation: one COUNT on the table
        (FULL) or on the watermark window (INCREMENTAL): `after` is the cursor the run resumed from
        (exclusive: dlt already loaded that boundary), None for a first run that starts at the workbook's
        `last_watermark` (inclusive, like dlt's `>=`); `until` is the last cursor value loaded (inclusive)."""
        engine = self.create_engine(credentials)
        try:
            columns = self._table_columns(job, engine, credentials)
            query = _count_query(job, columns, after, until)

            def count() -> int:
                with engine.connect() as connection:
                    return int(connection.execute(query).scalar() or 0)

            return int(_guard(job, self.describe_target(credentials), count))
        finally:
            engine.dispose()

    def _reflect_table(self, job: Job, engine: Engine, credentials: Any) -> sa.Table:
        """The job's table, reflected once: its MetaData goes to dlt's `sql_table`, which looks the table
        up there instead of reflecting it a second time."""
        target = self.describe_target(credentials)

        def reflect() -> sa.Table:
            try:
                return sa.Table(job.table_name, sa.MetaData(schema=job.schema_name), autoload_with=engine,
                                resolve_fks=False)
            except sa.exc.NoSuchTableError:
                raise SourceError(_missing_table(job, target)) from None

        return _guard(job, target, reflect)

    def _table_columns(self, job: Job, engine: Engine, credentials: Any) -> list[dict[str, Any]]:
        """Only the columns: two catalog queries, fewer than reflecting the whole table (for the row count)."""
        target = self.describe_target(credentials)

        def reflect() -> list[dict[str, Any]]:
            inspector = sa.inspect(engine)
            if not inspector.has_table(job.table_name, schema=job.schema_name):
                raise SourceError(_missing_table(job, target))
            return [dict(c) for c in inspector.get_columns(job.table_name, schema=job.schema_name)]

        return _guard(job, target, reflect)


def _missing_table(job: Job, target: str) -> str:
    where = f"schema '{job.schema_name}'" if job.schema_name else "the connection's default schema"
    return (f"{job.name}: table '{job.table_name}' not found in {where} of {target}: check table_name "
            f"and schema_name (names are case-sensitive when quoted).")


def column_dicts(table: sa.Table) -> list[dict[str, Any]]:
    """The table's columns as SQLAlchemy's inspector lists them (name, type, nullable)."""
    return [{"name": column.name, "type": column.type, "nullable": column.nullable} for column in table.columns]


def connection_failure(job_name: str, target: str, exc: BaseException) -> SourceError:
    """One line naming the job and the host, with the driver's first line and no secret."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    reason = redact(text.splitlines()[0] if text else type(exc).__name__)
    return SourceError(f"{job_name}: cannot read from {target}: {reason}")


def _guard(job: Job, target: str, action: Any) -> Any:
    try:
        return action()
    except sa.exc.SQLAlchemyError as exc:
        raise connection_failure(job.name, target, exc) from None


def _is_read_failure(exc: BaseException) -> bool:
    """Driver, connectorx, ADBC and DuckDB errors; connectorx reports some as a Rust panic (not an `Exception`)."""
    return isinstance(exc, sa.exc.SQLAlchemyError | OSError | RuntimeError) or type(exc).__name__ in (
        "PanicException", "OperationalError", "ProgrammingError", "InternalError", "DatabaseError") or (
        type(exc).__module__.lstrip("_").startswith("duckdb"))


def guarded_loader(backend: str, job_name: str, target: str,
                   settings: dict[str, Any] | None = None) -> type[BaseTableLoader]:
    """dlt's table loader for `backend`, turning a failure while reading rows into one line naming job and host."""
    base: type[BaseTableLoader] = TableLoader
    if backend == "connectorx":
        base = ConnectorXTableLoader
    elif backend == "adbc":
        from dlt_ingest.sources.pg_fast import AdbcTableLoader

        base = AdbcTableLoader
    elif backend == "duckdb":
        from dlt_ingest.sources.pg_duckdb import DuckDbTableLoader

        base = DuckDbTableLoader

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


def _find_column(job: Job, columns: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = job.watermark_column or ""
    for column in columns:
        if column["name"] == wanted:
            return column
    for column in columns:  # unquoted identifiers fold case in most databases
        if str(column["name"]).lower() == wanted.lower():
            return column
    known = ", ".join(str(c["name"]) for c in columns)
    raise SourceError(
        f"{job.name}: watermark_column '{wanted}' is not a column of table '{job.table_name}' "
        f"(columns: {known}): fix watermark_column in the workbook."
    )


def _count_nulls(engine: Engine, job: Job, column: str) -> int:
    table = sa.table(job.table_name, sa.column(column), schema=job.schema_name)
    query = sa.select(sa.func.count()).select_from(table).where(table.c[column].is_(None))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


def _count_query(job: Job, columns: list[dict[str, Any]], after: Any, until: Any) -> Any:
    """`SELECT count(*)` with the same cursor filter dlt's sql_table applies (NULL cursors excluded)."""
    if not (job.is_incremental and job.watermark_column):
        return sa.select(sa.func.count()).select_from(sa.table(job.table_name, schema=job.schema_name))
    found = _find_column(job, columns)
    table = sa.table(job.table_name, sa.column(found["name"], found["type"]), schema=job.schema_name)
    cursor = table.c[found["name"]]
    conditions = [cursor.isnot(None)]
    start = convert_watermark(job, found["type"]) if after is None else after
    if start is not None:
        conditions.append(cursor >= start if after is None else cursor > start)
    if until is not None:
        conditions.append(cursor <= until)
    return sa.select(sa.func.count()).select_from(table).where(*conditions)


def _python_type(column_type: Any) -> Any:
    try:
        return column_type.python_type
    except (NotImplementedError, AttributeError):
        return None


def convert_watermark(job: Job, column_type: Any) -> Any:
    """Turn the workbook's `last_watermark` into the column's Python type (dlt refuses strings on datetimes)."""
    value: WatermarkValue | None = job.last_watermark
    if value is None:
        return None
    target = _python_type(column_type)
    try:
        if target is datetime:
            result = _as_datetime(value)
            if getattr(column_type, "timezone", False):
                return result if result.tzinfo else result.replace(tzinfo=timezone.utc)
            return result.replace(tzinfo=None)  # a column without zone holds wall-clock values
        if target is date:
            return _as_datetime(value).date()
        if target is int:
            if isinstance(value, int | str) and str(value).lstrip("-").isdigit():
                return int(value)
            raise ValueError("not a whole number")
        if target is Decimal:
            return Decimal(str(value))
        if target is float:
            return float(str(value))
        if target is str:
            return value.isoformat() if isinstance(value, date | datetime) else str(value)
    except (ValueError, TypeError) as exc:
        raise SourceError(
            f"{job.name}: last_watermark '{value}' does not fit column '{job.watermark_column}' of type "
            f"{column_type} ({exc}): type a value of that type in the workbook."
        ) from None
    return value


def _as_datetime(value: WatermarkValue) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise ValueError("not a date or datetime")
