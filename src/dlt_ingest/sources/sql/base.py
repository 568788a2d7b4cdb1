"""What every SQL source shares: an engine from credentials, a checked table, its type contract, and dlt's
`sql_table` reading it.

A subclass only says how to build its `sqlalchemy.engine.URL` (never by string formatting, so any character
in a password works), how a session reads values exactly, and which backends it offers.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol, cast

import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from dlt.sources.sql_database.helpers import BaseTableLoader, ConnectorXTableLoader, TableLoader
from sqlalchemy.engine import URL, Engine

from dlt_ingest.errors import RowMismatch, SourceSettingError, TypeContractError
from dlt_ingest.sources.base import (
    LakeColumns,
    NothingNew,
    PreparedSource,
    RowCounter,
    SourceModule,
    SourceSession,
    StoredCursor,
    TCredentials,
)
from dlt_ingest.sources.sql.contract import BatchCaster, TableContract, adapt_query, adapt_table
from dlt_ingest.sources.sql.cursor import build_incremental, count_nulls, count_query, null_cursor_warning
from dlt_ingest.sources.sql.keys import SqlKeys, key_columns
from dlt_ingest.sources.sql.loading import ReadCounter, connection_failure, contract_loader
from dlt_ingest.sources.sql.session import DatabaseSession
from dlt_ingest.sources.sql.stability import settle, stored_columns
from dlt_ingest.sources.sql.types import PYARROW, TIMESTAMPTZ, Read, override_type
from dlt_ingest.sources.sql.unchanged import find_nothing_new
from dlt_ingest.workbook.model import Job, lake_name

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
    keeps_lake_types: ClassVar[bool] = True
    detects_deletes: ClassVar[bool] = True
    backends: ClassVar[tuple[str, ...]] = (PYARROW,)  # what a workbook row may force
    preference: ClassVar[tuple[str, ...]] = (PYARROW,)  # what `auto` tries, in order, per load type

    def url(self, credentials: TCredentials) -> URL:
        raise NotImplementedError

    def engine_options(self, credentials: TCredentials) -> dict[str, Any]:
        return {}

    def available_backends(self, source_session: DatabaseSession[TCredentials], job: Job) -> Sequence[str]:
        """The backends `auto` may use for `job`, fastest first (installed drivers only)."""
        return self.preference

    def open_session(self, credentials: TCredentials, jobs: Sequence[Job]) -> DatabaseSession[TCredentials]:
        return DatabaseSession(credentials, lambda: self.create_engine(credentials), jobs)

    def source_backend(self, credentials: TCredentials) -> str:
        """The source's own `backend` setting (a workbook row's wins over it)."""
        return str(getattr(credentials, "backend", None) or "auto")

    def check_credentials(self, credentials: TCredentials) -> list[str]:
        """Problems with the resolved settings (wrong combinations), each saying what is wrong."""
        return []

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        problems = []
        wanted = str(job.extra.get("backend") or "auto")
        if wanted != "auto" and wanted not in self.backends:
            problems.append(("backend", f"'{wanted}' is not available for {self.type_name} sources: use auto or "
                                        f"one of {', '.join(self.backends)}"))
        for column, kind in job.column_types.items():
            if override_type(kind) is None:
                problems.append(("column_types", f"'{kind}' for {column} is not a lake type: use text, int64, "
                                                 f"decimal(p,s) or timestamptz"))
        both = sorted(set(job.include_columns) & set(job.exclude_columns))
        if both:
            problems.append(("exclude_columns", f"{', '.join(both)} also in include_columns: name it in one of them"))
        needed = [c for c in (job.watermark_column, *job.primary_key) if c]
        for name in needed:
            if name in job.exclude_columns or (job.include_columns and name not in job.include_columns):
                column = "exclude_columns" if name in job.exclude_columns else "include_columns"
                problems.append((column, f"leaves out {name}, which the job needs (watermark_column or "
                                         f"primary_key): read it"))
        return problems

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

    def start_background_work(self, job: Job, engine: Engine, credentials: TCredentials, backend: str,
                              contract: TableContract) -> BackgroundWork | None:
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

    def table_resource(self, job: Job, engine: Engine, backend: str, incremental: Any, target: str,
                       contract: TableContract, columns_state: dict[str, Any], metadata: sa.MetaData,
                       counter: ReadCounter, settings: dict[str, Any] | None = None) -> Any:
        """dlt's `sql_table` reading the contract's columns the contract's way; `metadata` holding the
        reflected table spares dlt a second reflection."""
        kwargs: dict[str, Any] = {"return_type": "arrow_stream"} if backend == "connectorx" else {}
        loader = contract_loader(self.loader_class(backend), job.name, target, BatchCaster(contract, job.name),
                                 columns_state, counter, settings, snapshot=not job.is_incremental)
        resource = sql_table(
            credentials=engine,
            table=job.table_name,
            schema=job.schema_name,
            metadata=metadata,
            incremental=incremental,
            chunk_size=job.chunk_size or DEFAULT_CHUNK_SIZE,
            backend="pyarrow" if backend in ("adbc", "duckdb") else backend,  # type: ignore[arg-type]
            backend_kwargs=kwargs,
            reflection_level="full_with_precision",
            included_columns=[c.name for c in contract.columns],
            table_adapter_callback=lambda table: adapt_table(table, contract),
            query_adapter_callback=adapt_query(contract, engine.dialect.name),
            primary_key=list(job.primary_key) or None,  # type: ignore[arg-type]
            write_disposition="append",
            table_loader_class=loader,
        )
        resource.apply_hints(columns=cast(Any, contract.hints()))
        return resource

    @contextmanager
    def prepare(self, job: Job, source_session: SourceSession[TCredentials], lake: LakeColumns | None = None
                ) -> Iterator[PreparedSource]:
        shared = _database_session(source_session)
        credentials = shared.credentials
        problems = [*login_problems(credentials), *self.check_credentials(credentials)]
        if problems:
            raise SourceSettingError(
                f"{job.name}: settings of source '{job.source_name}': {'; '.join(problems)}: fix them under "
                f"[sources.{job.source_name}] in .dlt/secrets.toml (see docs/sources.md)."
            )
        lake = lake or LakeColumns()
        target = self.describe_target(credentials)
        engine = guard(job, target, lambda: shared.engine)
        background: BackgroundWork | None = None
        try:
            table, contract, incremental, backend = self.plan_read(job, shared, target)
            changes = settle(contract, lake.stored, lake.legacy, job.evolves, job.name, job.row)
            columns = column_dicts(table, contract)
            warnings: list[str] = []
            if incremental is not None:
                nulls = guard(job, target, lambda: count_nulls(engine, job, incremental.cursor_path))
                if nulls:
                    warnings.append(null_cursor_warning(nulls, incremental.cursor_path))
            log.info("%s: reading with the %s backend", job.name, self.reader_name(backend, job))
            settings = self.loader_settings(credentials)
            background = self.start_background_work(job, engine, credentials, backend, contract)
            if background is not None:
                settings["background_work"] = background
            counter = ReadCounter()
            resource = self.table_resource(job, engine, backend, incremental, target, contract,
                                           stored_columns(contract, lake.stored), table.metadata, counter, settings)
            keys = SqlKeys(engine, table, contract, job, lambda action: guard(job, target, action)) \
                if job.detect_deletes else None
            yield PreparedSource(resource, warnings, self._row_counter(job, engine, target, columns, background),
                                 changes, counter, keys)
        finally:
            if background is not None:  # a job that failed before its read does not wait for the work
                background.stop()

    def plan_read(self, job: Job, source_session: DatabaseSession[TCredentials], target: str
                  ) -> tuple[sa.Table, TableContract, Any, str]:
        """From the catalog alone: the table, its contract for the row's columns, the cursor and the backend;
        what the row asks that the table refuses raises `RowMismatch`, naming the cell."""
        table = self.reflect_table(job, source_session, target)
        selected = _selected(job, table)
        contract = self.table_contract(job, table, selected, source_session.engine.dialect)
        incremental = build_incremental(job, column_dicts(table, contract))
        if incremental is not None:
            _check_cursor(job, contract, incremental.cursor_path)
        _check_primary_key(job, selected)
        if job.detect_deletes:
            key_columns(job, contract)  # a key the comparison cannot hold exactly is refused before reading
        return table, contract, incremental, self.choose_backend(job, source_session, contract)

    def find_nothing_new(self, candidates: Sequence[tuple[Job, StoredCursor]],
                         source_session: SourceSession[TCredentials]) -> dict[str, NothingNew]:
        """One query per source for every candidate table (sources/sql/unchanged.py)."""
        return find_nothing_new(self, candidates, _database_session(source_session))

    def check_against_source(self, job: Job, source_session: SourceSession[TCredentials]
                             ) -> list[tuple[str, str]]:
        shared = _database_session(source_session)
        try:
            self.plan_read(job, shared, self.describe_target(shared.credentials))
        except RowMismatch as exc:
            return [(exc.workbook_column, exc.message.removeprefix(f"{job.name}: "))]
        return []

    def table_contract(self, job: Job, table: sa.Table, selected: list[sa.Column[Any]], dialect: Any) -> TableContract:
        """The contract of the `selected` columns (a dialect may withhold a backend for a reason of the table)."""
        return TableContract.of(table.name, selected, dialect, job.column_types)

    def reader_name(self, backend: str, job: Job) -> str:
        """What actually reads the rows, for the log (a dialect may hand incremental windows to another)."""
        return backend

    def reader_of(self, backend: str, job: Job) -> str:
        """The backend that reads the rows when `backend` is chosen: the one whose reads the contract checks."""
        return backend

    def choose_backend(self, job: Job, source_session: DatabaseSession[TCredentials], contract: TableContract
                       ) -> str:
        """The workbook row's backend, else the source's, else the first one `auto` may use that reads every
        column exactly; a forced backend that cannot is refused, naming the columns."""
        wanted = str(job.extra.get("backend") or "auto")
        if wanted == "auto":
            wanted = self.source_backend(source_session.credentials)
        if wanted != "auto":
            if wanted not in self.backends:
                raise RowMismatch(f"{job.name}: backend '{wanted}' is not available for {self.type_name} sources: "
                                  f"use auto or one of {', '.join(self.backends)}.", "backend")
            contract.refuse_backend(wanted, job.name, job.row, self.reader_of(wanted, job))
            return wanted
        chosen = contract.first_backend(self.available_backends(source_session, job))
        if chosen is None:
            columns = ", ".join(f"{c.name} ({c.source_type})" for c in contract.unreadable(PYARROW))
            raise TypeContractError(f"{job.name}: no installed backend reads every column exactly ({columns}): "
                                    f"exclude those columns or give them a column_types override")
        return chosen

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

    def reflect_table(self, job: Job, source_session: DatabaseSession[TCredentials], target: str) -> sa.Table:
        """The job's table, reflected once (with the other tables of its schema the run reads): its MetaData
        goes to dlt's `sql_table`, which looks the table up there instead of reflecting it a second time."""
        engine = source_session.engine

        def reflect() -> sa.Table:
            shared = source_session.reflected_table(job)
            if shared is not None:
                return shared
            try:
                with warnings.catch_warnings():  # a type SQLAlchemy does not know lands as the server's text
                    warnings.simplefilter("ignore", sa.exc.SAWarning)
                    return sa.Table(job.table_name, sa.MetaData(schema=job.schema_name), autoload_with=engine,
                                    resolve_fks=False)
            except sa.exc.NoSuchTableError:
                raise RowMismatch(missing_table(job, target), "table_name") from None

        return guard(job, target, reflect)


def _database_session(source_session: SourceSession[TCredentials]) -> DatabaseSession[TCredentials]:
    if not isinstance(source_session, DatabaseSession):
        raise TypeError("a database source needs the session its open_session made")
    return source_session


def _selected(job: Job, table: sa.Table) -> list[sa.Column[Any]]:
    """The columns of `table` the workbook row reads, in table order; every column the row names must exist."""
    names = [c.name for c in table.columns]
    folded = {n.lower() for n in names}  # an override may name a column in any case, as SQL does unquoted
    for workbook_column, named in (("include_columns", job.include_columns), ("exclude_columns", job.exclude_columns),
                                   ("column_types", tuple(job.column_types))):
        unknown = [n for n in named
                   if n not in names and (workbook_column != "column_types" or n.lower() not in folded)]
        if unknown:
            raise RowMismatch(f"{job.name}: {workbook_column} names {', '.join(unknown)}, which table "
                              f"'{job.table_name}' does not have (columns: {', '.join(names)}): fix the workbook row",
                              workbook_column)
    selected = [c for c in table.columns if (not job.include_columns or c.name in job.include_columns)
                and c.name not in job.exclude_columns]
    _refuse_shared_lake_names(job, selected)
    return selected


def _refuse_shared_lake_names(job: Job, columns: list[sa.Column[Any]]) -> None:
    """Columns whose lake names are one (`zip code` and `zip_code`, `ID` and `id`, `ä` and `ö`): dlt would fail
    the load with a message whose first line names none of them, and DuckDB would rename one."""
    by_lake_name: dict[str, list[str]] = {}
    for column in columns:
        by_lake_name.setdefault(lake_name(column.name), []).append(column.name)
    shared = [(name, sources) for name, sources in by_lake_name.items() if len(sources) > 1]
    if shared:
        details = "; ".join(f"{', '.join(repr(s) for s in sources)} all land as '{name}'" for name, sources in shared)
        raise RowMismatch(f"{job.name}: columns of table '{job.table_name}' share a lake column name (dlt's "
                          f"snake_case): {details}: read one of each with exclude_columns or include_columns",
                          "exclude_columns")


def _check_primary_key(job: Job, columns: Sequence[sa.Column[Any]]) -> None:
    names = {c.name for c in columns}
    missing = [k for k in job.primary_key if k not in names]
    if missing:
        raise RowMismatch(f"{job.name}: primary_key names {', '.join(missing)}, which the read of table "
                          f"'{job.table_name}' does not hold (columns: {', '.join(c.name for c in columns)}): fix "
                          f"primary_key in the workbook row", "primary_key")


def _check_cursor(job: Job, contract: TableContract, cursor: str) -> None:
    read = contract.column(cursor).read if cursor in contract.lake_types else Read.NATIVE
    if read is not Read.NATIVE:
        raise RowMismatch(f"{job.name}: watermark_column {cursor} ({contract.column(cursor).source_type}) is read "
                          f"as text and cannot order rows: choose a timestamp, date or number column",
                          "watermark_column")


def missing_table(job: Job, target: str) -> str:
    where = f"schema '{job.schema_name}'" if job.schema_name else "the connection's default schema"
    return (f"{job.name}: table '{job.table_name}' not found in {where} of {target}: check table_name "
            f"and schema_name (names are case-sensitive when quoted).")


def column_dicts(table: sa.Table, contract: TableContract | None = None) -> list[dict[str, Any]]:
    """The table's columns as SQLAlchemy's inspector lists them (name, type, nullable), and whether the lake holds
    the column as instants (`zoned`: a MySQL TIMESTAMP is read as one, though its SQL type has no zone)."""
    lake = contract.lake_types if contract is not None else {}
    return [{"name": column.name, "type": column.type, "nullable": column.nullable,
             "zoned": lake[column.name].arrow == TIMESTAMPTZ.arrow if column.name in lake else None}
            for column in table.columns]


def login_problems(credentials: Any) -> list[str]:
    """What every database login shares, checked before a driver sees it (a port of 'abc' was a ValueError)."""
    port = getattr(credentials, "port", None)
    if port is None or port == "":
        return []
    text = str(port).strip()
    if isinstance(port, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        return [f"port = {port!r} is not a port number (a whole number from 1 to 65535)"]
    return []


def guard(job: Job, target: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except sa.exc.SQLAlchemyError as exc:
        raise connection_failure(job.name, target, exc) from None
