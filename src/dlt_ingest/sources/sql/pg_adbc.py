"""PostgreSQL's fast path: ADBC (libpq `COPY ... TO STDOUT (FORMAT binary)` straight into Arrow batches).

The query is dlt's, adapted by the type contract (text where the contract reads text); the driver hands
every `numeric` over as its exact decimal text, which the contract's cast turns into `decimal128(p, s)`
with a safe cast that fails instead of rounding. A large table with a single integer primary key and no
cursor filter is read as key ranges on parallel connections; batches stream through a short queue, so
memory stays bounded by a few batches whatever the table size.
"""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing
from itertools import pairwise
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from dlt.sources.sql_database.helpers import BaseTableLoader
from sqlalchemy.dialects import postgresql as pg

from dlt_ingest.sources.sql.pg_login import PgLogin

BATCH_BYTES = 4 * 1024 * 1024  # ADBC batch size hint: ~40k rows of a 12-column table; 8 MiB cost 35 MiB more RSS
PARALLEL_MIN_ROWS = 1_000_000  # below this a second connection costs more than it saves
QUEUE_BATCHES = 1  # batches waiting per reader at most: the memory bound of the parallel read


def sql_text(query: Any, engine: sa.Engine) -> str:
    """`query` as the SQL text a driver that binds nothing itself (ADBC, connectorx) sends as is: values inline,
    and `%` left alone. psycopg2's dialect doubles every `%` (in identifiers and literals) for its own
    substitution, so a column named `growth %` would not be found and a literal `'a%b'` would match `'a%%b'`."""
    dialect = copy.copy(engine.dialect)
    dialect.paramstyle = "named"
    dialect.identifier_preparer = dialect.preparer(dialect)
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


class AdbcTableLoader(BaseTableLoader):
    """dlt table loader that reads through ADBC; dlt's own query (columns, cursor filter, order) is kept."""

    readers: int = 2  # parallel key-range reads of a large FULL table; 1 reads in one stream
    login: PgLogin | None = None  # set by the source: the job's credentials, in the forms the drivers want

    def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
        ranges = self._key_ranges()
        query = self.make_query()
        if len(ranges) < 2 or not isinstance(query, sa.Select):
            yield from self._read(self.compile_query(query))
            return
        key = self._single_integer_key()
        assert key is not None
        queries = [self.compile_query(query.where(key >= low, key < high)) for low, high in ranges]
        yield from self._read_parallel(queries)

    def compile_query(self, query: Any) -> str:
        return sql_text(query, self.engine)

    def _database(self) -> Any:
        """ADBC's low-level database handle: its DB-API module would import pyarrow.dataset (~0.2 s a run)."""
        import adbc_driver_postgresql

        assert self.login is not None, "the PostgreSQL source sets the login"
        return adbc_driver_postgresql.connect(self.login.libpq_uri())

    def _read(self, sql: str) -> Iterator[pa.Table]:
        import adbc_driver_manager as adbc

        with ExitStack() as handles:
            database = handles.enter_context(closing(self._database()))
            connection = handles.enter_context(closing(adbc.AdbcConnection(database)))
            statement = handles.enter_context(closing(adbc.AdbcStatement(connection)))
            statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            batches = handles.enter_context(closing(pa.RecordBatchReader._import_from_c(stream.address)))
            for batch in batches:
                if batch.num_rows:  # cast to the lake schema by the contract's loader
                    yield pa.Table.from_batches([batch])

    def _read_parallel(self, queries: list[str]) -> Iterator[pa.Table]:
        """Each key range on its own connection and thread; the driver releases the GIL while it reads."""
        done = object()
        batches: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES * len(queries))
        stop = threading.Event()

        def reader(sql: str) -> None:
            try:
                for table in self._read(sql):
                    while not stop.is_set():
                        try:
                            batches.put(table, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                batches.put(done)
            except BaseException as exc:  # handed to the consumer, which raises it in the job's thread
                batches.put(exc)

        threads = [threading.Thread(target=reader, args=(sql,), daemon=True) for sql in queries]
        for thread in threads:
            thread.start()
        try:
            finished = 0
            while finished < len(threads):
                item = batches.get()
                if item is done:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)

    def _single_integer_key(self) -> Any:
        keys = list(self.table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, sa.Integer):
            return keys[0]
        return None

    def _key_ranges(self) -> list[tuple[int, int]]:
        """Half-open ranges of the integer primary key splitting a large FULL read; one range otherwise."""
        key = self._single_integer_key()
        if key is None or self.readers < 2 or self.incremental is not None or self.limit is not None:
            return []
        with self.engine.connect() as connection:
            estimate = connection.execute(
                sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"),
                {"name": _qualified_name(self.table)},
            ).scalar()
            if not estimate or estimate < PARALLEL_MIN_ROWS:
                return []
            low, high = connection.execute(sa.select(sa.func.min(key), sa.func.max(key))).one()
        if low is None:
            return []
        step = (int(high) - int(low)) // self.readers + 1
        bounds = [int(low) + i * step for i in range(self.readers)] + [int(high) + 1]
        return list(pairwise(bounds))


def _qualified_name(table: sa.Table) -> str:
    quote = pg.dialect().identifier_preparer.quote
    name = quote(table.name)
    return f"{quote(table.schema)}.{name}" if table.schema else name
