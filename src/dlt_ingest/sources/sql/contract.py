"""The type contract applied to one table: which backend may read it, what the query selects, the dlt hints,
and the cast every batch goes through before dlt sees it.

dlt does not cast Arrow data to its schema (an int32 hinted `bigint` lands as int32), so each batch is cast
here to the table's lake schema, with safe casts that fail instead of losing anything, and values no Arrow
type holds (infinite dates, 24:00:00, a float that is no float32) are refused naming the column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from dlt_ingest.errors import RowMismatch, UnrepresentableValue
from dlt_ingest.sources.sql.types import (
    BACKENDS,
    Check,
    ColumnContract,
    LakeType,
    Read,
    contract_for,
    override_type,
    with_override,
)

FIRST_DATE, LAST_DATE = date(1, 1, 1), date(9999, 12, 31)
_DAY_MICROS = 86_400_000_000
_FIRST_MICROS = int((datetime(1, 1, 1) - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
_LAST_MICROS = int((datetime(9999, 12, 31, 23, 59, 59) - datetime(1970, 1, 1)).total_seconds()) * 1_000_000 + 999_999
_FIRST_DAY, _LAST_DAY = (FIRST_DATE - date(1970, 1, 1)).days, (LAST_DATE - date(1970, 1, 1)).days


@dataclass
class TableContract:
    """The contract of every selected column of one table, and the lake type each lands as in this job."""

    table: str
    dialect: str
    columns: list[ColumnContract]
    lake_types: dict[str, LakeType] = field(default_factory=dict)  # per column; the contract's unless the lake's
    limits: dict[str, str] = field(default_factory=dict)  # column -> why a backend its type allows cannot read it

    def __post_init__(self) -> None:
        for column in self.columns:
            self.lake_types.setdefault(column.name, column.lake)

    @classmethod
    def of(cls, table: str, columns: Iterable[Any], dialect: Any,
           overrides: dict[str, str] | None = None) -> TableContract:
        """The contract of the reflected `columns` the job reads, with the analyst's `column_types` overrides."""
        contracts = []
        for column in columns:
            contract = contract_for(column.name, column.type, dialect)
            wanted = _override_for(column.name, overrides or {})
            if wanted is not None:
                lake = override_type(wanted)
                if lake is None:
                    raise RowMismatch(f"column_types: '{wanted}' for column {column.name} is not a lake type: use "
                                      f"text, int64, decimal(p,s) or timestamptz", "column_types")
                contract = with_override(contract, lake)
            contracts.append(contract)
        return cls(table, dialect.name, contracts)

    def column(self, name: str) -> ColumnContract:
        return next(c for c in self.columns if c.name == name)

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, self.lake_types[c.name].arrow, nullable=True) for c in self.columns])

    def hints(self) -> dict[str, dict[str, Any]]:
        """dlt column hints describing exactly the lake schema (every column nullable, as Parquet holds it)."""
        return {c.name: {"name": c.name, **self.lake_types[c.name].hint, "nullable": True} for c in self.columns}

    def withhold(self, backend: str, names: Iterable[str], why: str) -> None:
        """`backend` cannot read these columns exactly, for a reason of the table rather than of their types."""
        wanted = set(names)
        self.columns = [replace(c, readers=c.readers - {backend}) if c.name in wanted else c for c in self.columns]
        self.limits.update(dict.fromkeys(wanted & set(self.lake_types), why))

    def unreadable(self, backend: str) -> list[ColumnContract]:
        return [c for c in self.columns if not c.readable_by(backend)]

    def first_backend(self, preference: Sequence[str]) -> str | None:
        return next((b for b in preference if not self.unreadable(b)), None)

    def refuse_backend(self, backend: str, job_name: str, row: int, reader: str | None = None) -> None:
        """A forced backend that cannot keep a column exact: refused before anything is read. `reader`: the
        backend that actually reads the rows when `backend` is forced (PostgreSQL's duckdb hands incremental
        windows to adbc)."""
        columns = self.unreadable(reader or backend)
        if not columns:
            return
        details = "; ".join(
            f"{c.name} ({c.source_type}{', ' + self.limits[c.name] if c.name in self.limits else ''}) can be read by "
            f"{', '.join(b for b in BACKENDS if c.readable_by(b))}" for c in columns)
        raise RowMismatch(f"{job_name}: backend '{backend}' in workbook row {row} cannot read every column "
                          f"exactly: {details}: use auto or one of those backends", "backend")

    @property
    def needs_nan_check(self) -> list[str]:
        return [c.name for c in self.columns if Check.NAN in c.checks]


def _override_for(name: str, overrides: dict[str, str]) -> str | None:
    if name in overrides:
        return overrides[name]
    lowered = {key.lower(): value for key, value in overrides.items()}
    return lowered.get(name.lower())


def adapt_table(table: sa.Table, contract: TableContract) -> None:
    """dlt `table_adapter_callback`: the SQLAlchemy types dlt converts rows with, so the pyarrow backend builds
    the lake's type (or text where the query reads text); every column nullable, as the lake holds it."""
    for column in table.columns:
        if column.name not in contract.lake_types:
            continue
        wanted = contract.column(column.name)
        column.type = _driver_type(wanted, contract.lake_types[column.name], column.type)
        column.nullable = True


def _driver_type(contract: ColumnContract, lake: LakeType, reflected: Any) -> Any:
    arrow = lake.arrow
    if contract.read is Read.SERVER_TEXT or pa.types.is_string(arrow):
        return sa.Text()
    if pa.types.is_decimal(arrow):
        return sa.Numeric(arrow.precision, arrow.scale, asdecimal=True)
    if pa.types.is_floating(arrow):
        return sa.Numeric(asdecimal=False)  # dlt makes a double of it (SQLAlchemy 2.1: a Float is no Numeric)
    if pa.types.is_integer(arrow):
        return sa.BigInteger()
    if pa.types.is_binary(arrow):
        return sa.LargeBinary()  # no length: dlt would build a fixed-size binary of a varbinary's length
    if isinstance(reflected, pg.DOMAIN):
        return reflected.data_type
    return reflected


def adapt_query(contract: TableContract, dialect: str) -> Callable[..., Any]:
    """dlt `query_adapter_callback`: the selected columns read the way the contract says (dlt's cursor filter
    and order stay on the native column)."""

    def adapt(query: Any, table: sa.Table, *_: Any) -> Any:
        if not isinstance(query, sa.Select):
            return query
        expressions = [read_expression(table.c[c.name], c.read, dialect).label(c.name) for c in contract.columns
                       if c.name in table.c]
        return query.with_only_columns(*expressions, maintain_column_froms=True)

    return adapt


def read_expression(column: Any, read: Read, dialect: str) -> Any:
    """The SQL that reads `column` as `read` asks, in the source's own dialect."""
    if read is Read.NATIVE:
        return column
    if read is Read.SERVER_TEXT:
        if dialect == "postgresql":  # the type's output function (psql's form), which concat() prints; concat()
            # maps NULL to '', and `IS NULL` holds for a composite whose fields are all NULL: num_nulls() tests
            # the value itself
            return sa.case((sa.func.num_nulls(column) == 1, sa.null()), else_=sa.func.concat(column))
        if dialect in ("mysql", "mariadb"):
            return sa.cast(column, sa.dialects.mysql.CHAR(charset="utf8mb4"))
        if dialect == "mssql":  # TEXT is SQL Server's deprecated 8-bit type: NVARCHAR(max) keeps every character
            return sa.cast(column, sa.dialects.mssql.NVARCHAR())
        if dialect == "oracle":  # CAST to CLOB refuses numbers and intervals; TO_CHAR prints each in full
            return sa.type_coerce(sa.func.to_char(column), sa.Text())
        return sa.cast(column, sa.Text())
    if read is Read.NUMERIC:
        return sa.cast(column, sa.Numeric())
    if read is Read.BIGINT:
        return sa.cast(column, sa.BigInteger())
    if read is Read.DOUBLE:
        if dialect in ("mysql", "mariadb"):  # SQLAlchemy drops a CAST AS DOUBLE on MySQL, so it is written out;
            # asdecimal=False: SQLAlchemy would round the value to 10 decimals
            return sa.type_coerce(sa.literal_column(f"CAST({_compiled(column, dialect)} AS DOUBLE)"),
                                  sa.dialects.mysql.DOUBLE(asdecimal=False))
        return sa.cast(column, sa.Double())
    if read is Read.ISO_TEXT:
        if dialect == "mssql":  # style 127: ISO 8601 with the offset (or Z), all seven fractional digits
            return sa.func.convert(sa.literal_column("VARCHAR(34)"), column, sa.literal_column("127"))
        return sa.cast(column, sa.Text())
    if read is Read.UNSIGNED:
        return sa.literal_column(f"CAST({_compiled(column, dialect)} AS UNSIGNED)")
    raise AssertionError(read)


def _compiled(column: Any, dialect: str) -> str:
    return str(column.compile(dialect=sa.dialects.registry.load(dialect)(), compile_kwargs={"literal_binds": True}))


class BatchCaster:
    """Casts every batch of one table to the lake schema, refusing what would change a value."""

    def __init__(self, contract: TableContract, job_name: str) -> None:
        self.contract = contract
        self.job_name = job_name
        self.schema = contract.schema()

    def cast(self, item: Any) -> pa.Table:
        table = item if isinstance(item, pa.Table) else pa.Table.from_batches([item])
        arrays = []
        for target in self.schema:
            column = table.column(target.name) if target.name in table.column_names else None
            arrays.append(self._column(target, column, table.num_rows))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _column(self, target: pa.Field, column: Any, rows: int) -> pa.ChunkedArray:
        if column is None:  # dlt's pyarrow backend drops a column that is NULL in the whole batch
            return pa.chunked_array([pa.nulls(rows, target.type)])
        if isinstance(column.type, pa.ExtensionType):  # ADBC's opaque/json/uuid types: their plain storage
            column = pa.chunked_array([chunk.storage for chunk in column.chunks], type=column.type.storage_type)
        contract = self.contract.column(target.name)
        try:
            cast = column if column.type == target.type else self._convert(column, target.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise self._refused(contract, target.type, str(exc).splitlines()[0]) from None
        self._check(contract, cast)
        return cast

    def _convert(self, column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
        if pa.types.is_float32(target) and pa.types.is_floating(column.type):
            # a 32-bit float the driver widened or printed with enough digits (PostgreSQL's shortest-exact text,
            # MySQL's CAST AS DOUBLE): rounding to the nearest 32-bit float gives back exactly the source's value
            return pc.cast(column, target)
        if pa.types.is_timestamp(target) and target.tz and pa.types.is_timestamp(column.type) and not column.type.tz:
            return pc.cast(column, target)  # a naive UTC wall clock (a MySQL TIMESTAMP read in a UTC session)
        if pa.types.is_string(column.type) and (pa.types.is_timestamp(target) or pa.types.is_time(target)):
            # ISO text with up to 9 fractional digits: parsed at nanoseconds, then narrowed only without loss
            wide = pa.timestamp("ns", tz=target.tz) if pa.types.is_timestamp(target) else pa.time64("ns")
            return pc.cast(pc.cast(column, wide), target, safe=True)
        return pc.cast(column, target, safe=True)

    def _check(self, contract: ColumnContract, column: pa.ChunkedArray) -> None:
        kind = column.type
        if column.null_count == len(column):
            return
        if Check.TIME_OF_DAY in contract.checks and pa.types.is_time(kind):
            top = pc.max(pc.cast(column, pa.int64())).as_py()
            if top is not None and top >= _DAY_MICROS:
                raise self._unrepresentable(contract, "24:00:00, which no time of day can hold")
        if Check.DATE_RANGE in contract.checks and (pa.types.is_date32(kind) or pa.types.is_timestamp(kind)):
            low, high = bounds_of(kind)
            values = pc.cast(column, pa.int64() if pa.types.is_timestamp(kind) else pa.int32())
            least, most = pc.min(values).as_py(), pc.max(values).as_py()
            if least is not None and (least < low or most > high):
                raise self._unrepresentable(contract, "'infinity' or a date outside the years 1 to 9999, which "
                                                      "Parquet readers cannot show")

    def _refused(self, contract: ColumnContract, target: pa.DataType, reason: str) -> UnrepresentableValue:
        return refusal(self.job_name, contract, self.contract.lake_types[contract.name], reason)

    def refused_driver_value(self, refusal: DriverRefusal) -> UnrepresentableValue:
        names = [c.name for c in self.contract.columns if self.contract.lake_types[c.name].name == refusal.kind]
        where = f"column {names[0]}" if len(names) == 1 else f"one of the columns {', '.join(names)}"
        what = ("24:00:00, which no time of day can hold" if refusal.kind == "time" else
                f"'{refusal.value}': 'infinity' or a date outside the years 1 to 9999, which Parquet readers cannot "
                f"show")
        return UnrepresentableValue(f"{self.job_name}: {where} ({refusal.kind}) holds {what}: replace it in the "
                                    f"source (for example with NULL) or exclude the column")

    def refused_conversion(self, column: str, reason: str) -> UnrepresentableValue:
        """A value dlt could not convert to the column's lake type while building a batch (pyarrow backend)."""
        return refusal(self.job_name, self.contract.column(column), self.contract.lake_types[column], reason)

    def _unrepresentable(self, contract: ColumnContract, what: str) -> UnrepresentableValue:
        return UnrepresentableValue(f"{self.job_name}: column {contract.name} ({contract.source_type}) holds {what}: "
                                    f"replace it in the source (for example with NULL) or exclude the column")


class DriverRefusal(UnrepresentableValue):
    """A driver's caster met a value it would have changed ('infinity', 24:00:00, a year outside 1..9999);
    it knows the value's type, not its column: `BatchCaster.refused_driver_value` names the column."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(f"a {kind} column holds '{value}'")
        self.kind, self.value = kind, value


_LAKE_KINDS = {"date": "date", "time": "time", "timestamp": "timestamp", "timestamptz": "timestamptz"}
_NOT_A_NUMBER = ("'nan'", "'inf'", "'-inf'", "out of range [1, 38]: -2147483648")  # ADBC's text, Decimal('NaN')


def refusal(job_name: str, contract: ColumnContract, lake: LakeType, reason: str) -> UnrepresentableValue:
    """The job's error for a value that does not fit the column's lake type: the column, what, and the fix."""
    if any(marker in reason.lower() for marker in _NOT_A_NUMBER):
        what = "NaN or Infinity, which no decimal Parquet column can carry"
    else:
        what = f"a value that does not fit {lake.name} ({reason})"
    return UnrepresentableValue(f"{job_name}: column {contract.name} ({contract.source_type}) holds {what}: give the "
                                f"column a column_types override (e.g. text) in the workbook, or exclude it")


def bounds_of(kind: pa.DataType) -> tuple[int, int]:
    """The stored integers a date, timestamp or time value of `kind` may take in the lake."""
    if pa.types.is_date32(kind):
        return _FIRST_DAY, _LAST_DAY
    if pa.types.is_time(kind):
        return 0, _DAY_MICROS - 1 if kind.unit == "us" else _DAY_MICROS * 1000 - 1
    factor = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 0}[kind.unit]
    if factor == 0:  # nanoseconds: int64 cannot reach the years 1 or 9999 anyway
        return -(2**63), 2**63 - 1
    return _FIRST_MICROS // factor, _LAST_MICROS // factor
