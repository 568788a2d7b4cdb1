"""FULL snapshots of PostgreSQL tables through DuckDB's PostgreSQL scanner, written straight to Parquet.

DuckDB reads the table with binary COPY over ctid ranges on `parallel_reads` connections in one snapshot,
and encodes Parquet on as many threads; that is as fast as a copy gets here (it is the benchmark's floor).
The files are handed to dlt as file imports (`dlt.mark.with_file_import`), so dlt still owns the load
package, the lake layout, the schema and the state. Incremental windows need dlt's cursor bookkeeping on
every row, so they stream through ADBC.

The type contract decides what DuckDB may read (`types.py`: its scanner strips char(n) padding, reads an
unconstrained numeric as a double and NaN as 0): each column is selected with the expression that lands
the contract's type, and each written file is checked against the lake schema. NaN in a numeric column
is found by one PostgreSQL scan that shares DuckDB's snapshot (DuckDB's transaction exports it), so the
check and the row count see exactly the rows the COPY copies.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from dlt.common.runtime import signals

from dlt_ingest.errors import SourceError, TypeContractError, UnrepresentableValue
from dlt_ingest.sources.sql.contract import TableContract, bounds_of
from dlt_ingest.sources.sql.pg_adbc import AdbcTableLoader
from dlt_ingest.sources.sql.pg_login import PgLogin, sql_literal
from dlt_ingest.sources.sql.types import Check

log = logging.getLogger("dlt_ingest.sources")

FILE_SIZE = "256MB"  # one lake file per ~256 MB of Parquet; DuckDB rolls files while it writes
MEMORY_LIMIT = "100MB"  # DuckDB's buffer pool; the COPY streams, it never holds the table
ROW_GROUP_SIZE = 61440  # rows per Parquet row group; each writer thread buffers one (DuckDB's 122880 cost 50 MiB)


def extension_path() -> Path | None:
    """The postgres_scanner extension shipped in the `duckdb-extension-postgres-scanner` wheel (no download).

    Found from package metadata, without importing duckdb (an incremental run never loads it)."""
    wheel = importlib.util.find_spec("duckdb_extension_postgres_scanner")
    if wheel is None or wheel.origin is None:
        return None
    try:
        version = importlib.metadata.version("duckdb")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(wheel.origin).parent / "extensions" / f"v{version}" / "postgres_scanner.duckdb_extension"
    return path if path.exists() else None


def duckdb_available() -> bool:
    return extension_path() is not None


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SnapshotScan(threading.Thread):
    """One PostgreSQL scan in DuckDB's snapshot: the table's row count and whether a numeric column holds
    `NaN` (DuckDB reads it as 0).

    It runs while dlt sets up (started with the session), so it leaves both cores to the COPY later: run
    alongside the COPY it made a 5M-row snapshot ~0.5 s slower. The count serves the job's reconciliation,
    which would otherwise scan the table once more after the load.
    """

    def __init__(self, engine: sa.Engine, schema: str | None, table: str, numeric: list[str]) -> None:
        super().__init__(daemon=True, name=f"snapshot-scan-{table}")
        self.engine, self.schema, self.table, self.numeric = engine, schema, table, numeric
        self.snapshot: str | None = None
        self.rows: int | None = None
        self.found: str | None = None
        self.error: BaseException | None = None
        self._driver_connection: Any = None
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            with self.engine.connect() as connection:
                self._driver_connection = connection.connection.dbapi_connection
                if self._stopped.is_set():
                    return
                if self.snapshot is not None:  # DuckDB's: the scan sees exactly what the COPY copies
                    connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                    connection.execute(sa.text(f"SET TRANSACTION SNAPSHOT {sql_literal(self.snapshot)}"))
                table = sa.table(self.table, *[sa.column(name) for name in self.numeric], schema=self.schema)
                nan = sa.literal("NaN", sa.Numeric())
                query = sa.select(sa.func.count(), *[sa.func.bool_or(table.c[name] == nan) for name in self.numeric]
                                  ).select_from(table)
                rows, *flags = connection.execute(query).one()
            self.rows = int(rows)
            self.found = next((name for name, flag in zip(self.numeric, flags, strict=True) if flag), None)
        except BaseException as exc:  # raised in the job's thread
            self.error = exc

    def stop(self) -> None:
        """Cancel the scan on the server and wait for the thread: a failed or interrupted job does not wait
        for a full scan of the table. The cancel request is repeated, as one sent before the query reached
        the server is lost."""
        self._stopped.set()
        while self.ident is not None and self.is_alive():
            connection = self._driver_connection
            if connection is not None:
                try:
                    connection.cancel()
                except Exception:  # already finished or closed: nothing left to cancel
                    log.debug("snapshot scan of %s: cancel request failed", self.table, exc_info=True)
            self.join(0.1)

    def raise_if_found(self, job_name: str) -> None:
        if self.ident is None:  # never started: the session failed to open, which the COPY has raised
            raise SourceError(f"{job_name}: the NaN check of {self.table} did not run")
        self.join()
        if self.error is not None:
            raise self.error
        if self.found:
            raise UnrepresentableValue(
                f"{job_name}: column {self.found} of {self.table} holds NaN or Infinity, which no decimal Parquet "
                f"column can carry: give the column a column_types override (e.g. text) in the workbook, or exclude "
                f"it")


class DuckDbSession:
    """A DuckDB connection with the postgres scanner loaded, the source attached read-only as `src`, and one
    open transaction whose PostgreSQL snapshot it exports (`snapshot`) for the scan to share.

    Opening costs ~0.3 s (importing duckdb, loading the 42 MB extension), so the source opens it on a thread
    (`open_in_background`) while dlt sets up. A failure to open (a wrong password, a host that does not
    answer) is raised where the session is used.
    """

    def __init__(self, login: PgLogin, readers: int) -> None:
        self.login, self.readers = login, max(1, readers)
        # DuckDB's connections carry their own application_name, so an interrupted run can cancel them
        self.application_name = f"dlt-ingest-snapshot-{uuid.uuid4().hex[:12]}"
        self.snapshot: str | None = None
        self._db: Any = None
        self._error: BaseException | None = None
        self._opener: threading.Thread | None = None

    def open_in_background(self, then: Callable[[DuckDbSession], None] | None = None) -> DuckDbSession:
        def open_then() -> None:
            self._open_and_keep()
            if then is not None and self._error is None:
                then(self)

        self._opener = threading.Thread(target=open_then, daemon=True, name="duckdb-open")
        self._opener.start()
        return self

    def connection(self) -> Any:
        """The open connection (waiting for the background open); raises what opening it raised."""
        self._wait_for_opener()
        if self._db is None and self._error is None:  # never opened, or closed since
            self._open_and_keep()
        if self._error is not None:
            raise self._error
        return self._db

    def close(self) -> None:
        self._wait_for_opener()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _wait_for_opener(self) -> None:
        if self._opener is not None:
            self._opener.join()
            self._opener = None

    def _open_and_keep(self) -> None:
        try:
            self._db = self._open()
        except BaseException as exc:  # raised where the connection is used
            self._error = exc

    def _open(self) -> Any:
        import duckdb

        # parallel_reads: DuckDB threads, each with its own PostgreSQL connection (+ one for the catalog)
        db = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": False,
                                    "threads": self.readers})
        try:
            db.execute(f"LOAD {sql_literal(extension_path())}")
            db.execute(f"SET pg_pool_max_connections = {self.readers + 1}")
            db.execute("SET TimeZone = 'UTC'")
            db.execute(self.login.duckdb_secret("pg"))
            db.execute(f"ATTACH {sql_literal(self.connection_options())} AS src (TYPE postgres, READ_ONLY, SECRET pg)")
            db.execute("BEGIN")  # one PostgreSQL snapshot for the COPY and the scan that checks it
            exported = db.execute("SELECT * FROM postgres_query('src', 'SELECT pg_export_snapshot()')").fetchone()
            self.snapshot = str(exported[0]) if exported else None
        except BaseException:
            db.close()
            raise
        return db

    def connection_options(self) -> str:
        """libpq options beyond the login, with the snapshot's own application_name unless one is set."""
        extra = {} if "application_name" in self.login.options else {"application_name": self.application_name}
        return self.login.conninfo(**extra)


class SnapshotStart:
    """What a FULL DuckDB snapshot starts as soon as the source chose the duckdb backend: the DuckDB session,
    then the PostgreSQL scan in its snapshot. Both run while dlt sets up the pipeline and the extraction, on
    the core that Python leaves idle, so the COPY later has both cores to itself."""

    def __init__(self, engine: sa.Engine, schema: str | None, table: str, login: PgLogin, readers: int,
                 numeric: list[str]) -> None:
        self.scan = SnapshotScan(engine, schema, table, numeric)
        self.session = DuckDbSession(login, readers)
        self.copied = False  # the COPY completed and its files were handed to dlt

    def start(self) -> SnapshotStart:
        self.session.open_in_background(then=self._start_scan)
        return self

    def _start_scan(self, session: DuckDbSession) -> None:
        self.scan.snapshot = session.snapshot
        self.scan.start()

    def stop(self) -> None:
        self.session._wait_for_opener()  # the scan starts from the opener: wait for it to decide
        self.scan.stop()
        self.session.close()

    def counted_rows(self) -> int | None:
        """The row count the scan took in the snapshot the COPY read, once the COPY completed."""
        return self.scan.rows if self.copied else None


def duckdb_expression(name: str, contract: TableContract) -> str:
    """The DuckDB expression that reads one column as its lake type (the contract admits only these)."""
    column = contract.column(name)
    lake = contract.lake_types[name].arrow
    quoted = identifier(name)
    if column.source_type.startswith(("character(", "char(", "bpchar")) and "(" in column.source_type:
        length = int(column.source_type.split("(", 1)[1].split(")", 1)[0])  # the server pads to its length
        return f"CASE WHEN {quoted} IS NULL THEN NULL ELSE rpad({quoted}, {length}, ' ') END AS {quoted}"
    if pa.types.is_integer(lake):
        return f"CAST({quoted} AS BIGINT) AS {quoted}"
    if pa.types.is_string(lake):
        return f"CAST({quoted} AS VARCHAR) AS {quoted}"
    return quoted


def _arrow_of(field: pa.Field) -> pa.DataType:
    return field.type.storage_type if isinstance(field.type, pa.ExtensionType) else field.type


def _check_file(metadata: Any, contract: TableContract, job_name: str) -> None:
    """The file holds the lake schema, and no value a reader cannot show (checked on its statistics)."""
    schema = metadata.schema.to_arrow_schema()
    wanted = contract.schema()
    got = {f.name: _arrow_of(f) for f in schema}
    wrong = [f"{f.name}: {got.get(f.name)} instead of {f.type}" for f in wanted if got.get(f.name) != f.type]
    if wrong:
        raise TypeContractError(f"{job_name}: DuckDB wrote other types than the lake's ({'; '.join(wrong)}); "
                                f"use backend adbc for this table and report it")
    for index, field in enumerate(schema):
        column = contract.column(field.name)
        if not column.checks & {Check.DATE_RANGE, Check.TIME_OF_DAY}:
            continue
        low, high = bounds_of(field.type)
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(index).statistics
            if stats is not None and stats.has_min_max and (stats.min_raw < low or stats.max_raw > high):
                what = ("24:00:00, which no time of day can hold" if pa.types.is_time(field.type) else
                        "'infinity' or a date outside the years 1 to 9999, which Parquet readers cannot show")
                raise UnrepresentableValue(
                    f"{job_name}: column {field.name} ({column.source_type}) holds {what}: replace it in the source "
                    f"(for example with NULL) or exclude the column")


def _run_interruptibly(db: Any, sql: str, cancel_on_server: Callable[[], None]) -> Any:
    """Run a long DuckDB statement in a worker thread while this thread keeps returning to Python.

    Python runs signal handlers only between bytecodes of the main thread, so a COPY executed on it
    would hold Ctrl-C back until it ends. Polling here, a signal (dlt's handler sets a flag) becomes
    DuckDB's interrupt plus a cancel of DuckDB's PostgreSQL queries (DuckDB alone waits for a slow read
    to return). The statement then fails and nothing is imported.
    """
    outcome: dict[str, Any] = {}

    def execute() -> None:
        try:
            outcome["row"] = db.execute(sql).fetchone()
        except BaseException as exc:  # re-raised in the job's thread
            outcome["error"] = exc

    worker = threading.Thread(target=execute, daemon=True, name="duckdb-copy")
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
        if worker.is_alive() and signals.was_signal_received():  # again every 0.2 s until DuckDB returns
            db.interrupt()
            cancel_on_server()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("row")


class DuckDbTableLoader(AdbcTableLoader):
    """dlt table loader: a FULL read is one DuckDB COPY to Parquet files imported into the load package."""

    job_name: str = ""  # set by the source for log lines
    contract: TableContract  # set by the source
    background_work: SnapshotStart | None = None  # started by the source once it chose this backend

    def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
        query = self.make_query()
        if self.incremental is not None or self.limit is not None or not isinstance(query, sa.Select) or (
                query.whereclause is not None):
            yield from super().load_rows(backend_kwargs)
            return
        yield from self._snapshot_files([column.name for column in query.selected_columns])

    def _snapshot_files(self, columns: list[str]) -> Iterator[Any]:
        started = self.background_work
        if started is None:
            raise SourceError(f"{self.job_name}: the duckdb backend needs duckdb and its postgres_scanner wheel: "
                              f"pip install 'dlt-ingest[postgres]'")
        folder = Path(dlt.current.pipeline().working_dir) / f"duckdb_snapshot_{uuid.uuid4().hex}"
        try:
            rows = self._copy_to_parquet(columns, folder, started.session)
            started.scan.raise_if_found(self.job_name)
            files = sorted(folder.glob("*.parquet"))
            log.info("%s: DuckDB wrote %d row(s) to %d Parquet file(s)", self.job_name, rows, len(files))
            for path in files:
                metadata = pq.read_metadata(path)
                _check_file(metadata, self.contract, self.job_name)
                if metadata.num_rows:
                    # the lake schema carries the file's types through the resource's pipe steps (which drop an
                    # item of None) and lets dlt's Arrow extractor check it against the schema
                    yield dlt.mark.with_file_import(str(path), "parquet", metadata.num_rows,
                                                    hints=self.contract.schema().empty_table())
            started.copied = True
        finally:
            started.stop()  # a failed or interrupted copy does not wait for a full scan of the table
            shutil.rmtree(folder, ignore_errors=True)

    def _copy_to_parquet(self, columns: list[str], folder: Path, session: DuckDbSession) -> int:
        select = ", ".join(duckdb_expression(name, self.contract) for name in columns)
        source = f"src.{identifier(self._schema_name())}.{identifier(self.table.name)}"
        # zstd level 1: the same copy time as snappy here, ~40% fewer bytes to upload to ADLS
        options = (f"FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, FILE_SIZE_BYTES {sql_literal(FILE_SIZE)}, "
                   f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}")
        db = session.connection()
        signals.raise_if_signalled()  # stopped before the copy began
        result = _run_interruptibly(db, f"COPY (SELECT {select} FROM {source}) TO {sql_literal(folder)} ({options})",
                                    lambda: self._cancel_duckdb_queries(session.application_name))
        return int(result[0]) if result else 0

    def _schema_name(self) -> str:
        if self.table.schema:
            return str(self.table.schema)
        with self.engine.connect() as connection:
            return str(connection.execute(sa.text("SELECT current_schema()")).scalar())

    def _cancel_duckdb_queries(self, application_name: str) -> None:
        """Cancel, on PostgreSQL, the queries of DuckDB's connections (found by their application_name)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": application_name})
        except Exception:  # the COPY is interrupted in DuckDB anyway; this only makes it quicker
            log.warning("%s: could not cancel DuckDB's queries on PostgreSQL", self.job_name, exc_info=True)
