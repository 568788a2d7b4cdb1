"""PostgreSQL's fast path: ADBC (libpq `COPY ... TO STDOUT (FORMAT binary)` straight into Arrow batches).

The driver hands every `numeric` over as its exact decimal text; each such column is rebuilt here as
`decimal128(p, s)` of the declared precision and scale, with a safe cast that fails instead of rounding.
`timestamptz` arrives as `timestamp[us, tz=UTC]`, the other types of `ADBC_EXACT_TYPES` as the same Arrow
types the pyarrow backend produces. A large table with a single integer primary key and no cursor filter
is read as key ranges on parallel connections; batches stream through a short queue, so memory stays
bounded by a few batches whatever the table size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing
from itertools import pairwise
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from dlt.sources.sql_database.helpers import BaseTableLoader
from sqlalchemy.dialects import postgresql as pg

from dlt_ingest.sources.sql.pg_login import PgLogin

# Types whose ADBC Arrow value equals the pyarrow backend's (uuid, json, arrays, enums, intervals and
# unconstrained numeric are not here: they arrive as opaque text or need a scale the column does not declare).
ADBC_EXACT_TYPES: tuple[type[Any], ...] = (
    sa.Integer, sa.String, sa.Boolean, sa.Date, sa.DateTime, sa.Time, sa.LargeBinary, sa.Float, sa.Numeric,
)
MAX_DECIMAL_PRECISION = 38
BATCH_BYTES = 4 * 1024 * 1024  # ADBC batch size hint: ~40k rows of a 12-column table; 8 MiB cost 35 MiB more RSS
PARALLEL_MIN_ROWS = 1_000_000  # below this a second connection costs more than it saves
QUEUE_BATCHES = 1  # batches waiting per reader at most: the memory bound of the parallel read


def adbc_keeps(columns: list[dict[str, Any]]) -> bool:
    """True when ADBC returns every column exactly as the pyarrow backend would (after `exact_batch`)."""
    return all(_adbc_keeps(c["type"]) for c in columns)


def _adbc_keeps(sql_type: Any) -> bool:
    if not isinstance(sql_type, ADBC_EXACT_TYPES) or isinstance(sql_type, sa.Enum | sa.ARRAY | pg.JSON | sa.Uuid):
        return False
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
        return sql_type.precision is not None and sql_type.scale is not None and (
            0 <= sql_type.scale <= sql_type.precision <= MAX_DECIMAL_PRECISION)
    return True


def decimal_targets(table: sa.Table) -> dict[str, pa.DataType]:
    """Arrow decimal type per numeric column, from the declared precision and scale."""
    return {
        column.name: pa.decimal128(column.type.precision, column.type.scale)
        for column in table.columns
        if isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float)
        and column.type.precision is not None and column.type.scale is not None
    }


def exact_batch(batch: pa.RecordBatch, decimals: dict[str, pa.DataType], required: frozenset[str]) -> pa.Table:
    """A plain Arrow table: numeric text cast to its decimal type (fails on any loss), NOT NULL columns
    marked non-nullable as dlt's schema has them (else dlt warns on every batch), driver metadata dropped."""
    arrays, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if isinstance(column, pa.ExtensionArray):
            column = column.storage
        if field.name in decimals:
            column = pc.cast(column, decimals[field.name], safe=True)
        elif pa.types.is_int8(column.type) or pa.types.is_int16(column.type):
            column = pc.cast(column, pa.int32())  # the pyarrow backend lands smallint as int32
        arrays.append(column)
        fields.append(pa.field(field.name, column.type, nullable=field.name not in required or column.null_count > 0))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


class AdbcTableLoader(BaseTableLoader):
    """dlt table loader that reads through ADBC; dlt's own query (columns, cursor filter, order) is kept."""

    readers: int = 2  # parallel key-range reads of a large FULL table; 1 reads in one stream
    login: PgLogin | None = None  # set by the source: the job's credentials, in the forms the drivers want

    def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
        decimals = decimal_targets(self.table)
        required = frozenset(c.name for c in self.table.columns if not c.nullable)
        ranges = self._key_ranges()
        query = self.make_query()
        if len(ranges) < 2 or not isinstance(query, sa.Select):
            yield from self._read(self.compile_query(query), decimals, required)
            return
        key = self._single_integer_key()
        assert key is not None
        queries = [self.compile_query(query.where(key >= low, key < high)) for low, high in ranges]
        yield from self._read_parallel(queries, decimals, required)

    def _database(self) -> Any:
        """ADBC's low-level database handle: its DB-API module would import pyarrow.dataset (~0.2 s a run)."""
        import adbc_driver_postgresql

        assert self.login is not None, "the PostgreSQL source sets the login"
        return adbc_driver_postgresql.connect(self.login.libpq_uri())

    def _read(self, sql: str, decimals: dict[str, pa.DataType], required: frozenset[str]) -> Iterator[pa.Table]:
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
                if batch.num_rows:
                    yield exact_batch(batch, decimals, required)

    def _read_parallel(self, queries: list[str], decimals: dict[str, pa.DataType],
                       required: frozenset[str]) -> Iterator[pa.Table]:
        """Each key range on its own connection and thread; the driver releases the GIL while it reads."""
        done = object()
        batches: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES * len(queries))
        stop = threading.Event()

        def reader(sql: str) -> None:
            try:
                for table in self._read(sql, decimals, required):
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
    quote = sa.dialects.postgresql.dialect().identifier_preparer.quote
    name = quote(table.name)
    return f"{quote(table.schema)}.{name}" if table.schema else name
