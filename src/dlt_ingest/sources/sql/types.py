"""The type contract: for every column type a database reflects, the one Arrow type it lands as in the lake,
how it must be read so that its values stay exact, and which backends can read it that way.

Every backend's output is cast to the contract (`sources/sql/contract.py`), or the backend is not chosen
for the table: `auto` and every allowed forced backend give the same Parquet schema and the same values,
FULL and INCREMENTAL alike. The table in docs/sources.md is generated from `docs_rows()` (a test compares).

The rules, for every dialect:
- integers land as int64 (a smallint or an int4 widens exactly and never changes the lake's type when
  the source widens it); an unsigned 64-bit integer as decimal(20,0);
- decimals keep precision and scale up to 38 digits; wider ones land as the server's text; a decimal with
  no declared precision lands as decimal(38,10) and a value that does not fit fails the job (never rounded);
- floats keep their width (real as float32, double as float64): a widened real would show digits the
  source never had;
- timestamps with a zone land as UTC instants, without one as naive wall-clock values;
- everything without an exact Arrow type (json, intervals, arrays, network and geometric types, ranges,
  enums' siblings, unknown types) lands as the server's own text for the value, never re-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, oracle
from sqlalchemy.dialects import postgresql as pg

PYARROW, CONNECTORX, ADBC, DUCKDB = "pyarrow", "connectorx", "adbc", "duckdb"
BACKENDS = (PYARROW, CONNECTORX, ADBC, DUCKDB)
ALL = frozenset(BACKENDS)
MAX_DECIMAL_DIGITS = 38
UNBOUNDED_SCALE = 10  # an unconstrained NUMERIC lands as decimal(38, 10); a value needing more fails loudly


@dataclass(frozen=True)
class LakeType:
    """An Arrow type of the lake, with the dlt column hint that describes it."""

    name: str
    arrow: pa.DataType
    hint: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def int_type(bits: int = 64) -> LakeType:
    return LakeType(f"int{bits}", getattr(pa, f"int{bits}")(), {"data_type": "bigint", "precision": bits})


def float_type(bits: int) -> LakeType:
    return LakeType(f"float{bits}", pa.float32() if bits == 32 else pa.float64(), {"data_type": "double"})


def decimal_type(precision: int, scale: int) -> LakeType:
    return LakeType(f"decimal({precision},{scale})", pa.decimal128(precision, scale),
                    {"data_type": "decimal", "precision": precision, "scale": scale})


STRING = LakeType("string", pa.string(), {"data_type": "text"})
BINARY = LakeType("binary", pa.binary(), {"data_type": "binary"})
BOOL = LakeType("bool", pa.bool_(), {"data_type": "bool"})
DATE = LakeType("date", pa.date32(), {"data_type": "date"})
TIME = LakeType("time", pa.time64("us"), {"data_type": "time", "precision": 6})
TIMESTAMP = LakeType("timestamp", pa.timestamp("us"), {"data_type": "timestamp", "precision": 6, "timezone": False})
TIMESTAMPTZ = LakeType("timestamptz", pa.timestamp("us", tz="UTC"),
                       {"data_type": "timestamp", "precision": 6, "timezone": True})
INT64 = int_type(64)


class Read(str, Enum):
    """How a column must be selected for its value to stay exact."""

    NATIVE = "native"  # the driver's own value
    SERVER_TEXT = "text"  # the server's text form of the value (what its output function prints)
    NUMERIC = "numeric"  # as a server numeric (PostgreSQL money)
    BIGINT = "bigint"  # as a server bigint (PostgreSQL oid, which ADBC reads as a signed int32)
    DOUBLE = "double"  # as a server double (MySQL FLOAT, which the text protocol rounds to 6 digits)
    UNSIGNED = "unsigned"  # as an unsigned integer (MySQL BIT)
    ISO_TEXT = "iso"  # as ISO 8601 text, parsed back exactly (SQL Server's 100 ns times, which drivers truncate)


class Check(str, Enum):
    """Values some backends would change silently; a scan or the batch itself refuses them."""

    NAN = "nan"  # numeric NaN or infinity: no decimal holds them
    DATE_RANGE = "date_range"  # infinity and years outside 1..9999: drivers map them to other dates
    TIME_OF_DAY = "time_of_day"  # 24:00:00: drivers read it as 00:00:00


@dataclass(frozen=True)
class ColumnContract:
    """What one source column lands as, and how."""

    name: str
    source_type: str  # as the source spells it, e.g. "numeric(10,2)"
    lake: LakeType
    natural: LakeType  # the narrowest exact type of the source's values (for the type-stability rule)
    read: Read = Read.NATIVE
    checks: frozenset[Check] = frozenset()
    readers: frozenset[str] = ALL  # the backends that read it exactly
    note: str = ""

    def readable_by(self, backend: str) -> bool:
        return backend in self.readers


Rule = Callable[[str, Any, str], ColumnContract | None]  # (column name, reflected type, source type) -> contract


def source_type_name(sql_type: Any, dialect: Any) -> str:
    """The column's type as its source spells it, in lower case (`numeric(10,2)`, `character varying(20)`)."""
    if isinstance(sql_type, pg.DOMAIN):
        return f"{sql_type.name} (domain over {source_type_name(sql_type.data_type, dialect)})"
    try:
        text = sql_type.compile(dialect=dialect)
    except Exception:  # a type the dialect cannot render (NullType for an unknown catalog type)
        text = type(sql_type).__name__
    return re.sub(r",\s+", ",", str(text)).lower()


def _decimal(name: str, source: str, precision: int | None, scale: int | None,
             readers: frozenset[str], checks: frozenset[Check] = frozenset()) -> ColumnContract:
    """A declared decimal: exact up to 38 digits (a negative scale becomes more digits, scale 0), text above;
    an undeclared one lands as decimal(38, 10) and refuses what does not fit."""
    if precision is None:
        lake = decimal_type(MAX_DECIMAL_DIGITS, UNBOUNDED_SCALE)
        return ColumnContract(name, source, lake, lake, Read.NATIVE, checks, readers - {DUCKDB, CONNECTORX},
                              "no declared precision: a value with more than 28 integer digits or 10 decimals fails "
                              "the job; give it a column_types override (decimal(p,s) or text)")
    scale = scale or 0
    digits, scale = (precision - scale, 0) if scale < 0 else (precision, scale)
    if digits > MAX_DECIMAL_DIGITS or scale > digits:
        return ColumnContract(name, source, STRING, STRING, Read.SERVER_TEXT, frozenset(), readers - {DUCKDB},
                              "more than 38 digits: the server's text")
    lake = decimal_type(digits, scale)
    return ColumnContract(name, source, lake, lake, Read.NATIVE, checks, readers)


def _text(name: str, source: str, readers: frozenset[str] = ALL - {DUCKDB}, note: str = "the server's text",
          ) -> ColumnContract:
    return ColumnContract(name, source, STRING, STRING, Read.SERVER_TEXT, frozenset(), readers, note)


def _integer(name: str, source: str, bits: int, readers: frozenset[str] = ALL) -> ColumnContract:
    return ColumnContract(name, source, INT64, int_type(bits), Read.NATIVE, frozenset(), readers)


def _native(name: str, source: str, lake: LakeType, readers: frozenset[str] = ALL,
            checks: frozenset[Check] = frozenset(), note: str = "") -> ColumnContract:
    return ColumnContract(name, source, lake, lake, Read.NATIVE, checks, readers, note)


_DATES = frozenset({Check.DATE_RANGE})


def postgresql_rule(name: str, t: Any, source: str) -> ColumnContract | None:
    """PostgreSQL's catalog types. connectorx widens numerics and misreads time and intervals; ADBC and the
    pyarrow backend read everything once the query asks for text where needed; DuckDB reads only the types
    its scanner keeps exactly."""
    if isinstance(t, pg.DOMAIN):
        base = postgresql_rule(name, t.data_type, source) or generic_rule(name, t.data_type, source)
        return ColumnContract(name, source, base.lake, base.natural, base.read, base.checks,
                              base.readers - {DUCKDB}, base.note) if base else None
    if isinstance(t, pg.MONEY):
        lake = decimal_type(19, 2)
        return ColumnContract(name, source, lake, lake, Read.NUMERIC, frozenset(), ALL - {DUCKDB},
                              "read as numeric (the text would follow lc_monetary)")
    if isinstance(t, pg.OID):
        return ColumnContract(name, source, INT64, int_type(64), Read.BIGINT, frozenset(), ALL)
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return _decimal(name, source, t.precision, t.scale, ALL - {CONNECTORX}, frozenset({Check.NAN}))
    if isinstance(t, pg.TIME) and t.timezone:
        return _text(name, source, note="the server's text: an offset without a date has no instant")
    if isinstance(t, sa.Time):
        return _native(name, source, TIME, ALL - {CONNECTORX}, frozenset({Check.TIME_OF_DAY}))
    if isinstance(t, sa.DateTime | sa.Date):  # connectorx fails on years past 9999 without naming the column
        base = generic_rule(name, t, source)
        return ColumnContract(name, source, base.lake, base.natural, base.read, base.checks, ALL - {CONNECTORX},
                              base.note)
    if isinstance(t, pg.CHAR | sa.NCHAR) or type(t) is sa.CHAR:
        return _native(name, source, STRING, ALL, note="padded to its length, as the server returns it")
    if isinstance(t, pg.UUID | sa.Uuid):
        return ColumnContract(name, source, STRING, STRING, Read.SERVER_TEXT, frozenset(), ALL,
                              "canonical lower-case text")
    if isinstance(t, pg.JSON | pg.JSONB | sa.JSON):
        return ColumnContract(name, source, STRING, STRING, Read.SERVER_TEXT, frozenset(), ALL,
                              "the document exactly as the server returns it; JSON null is 'null', SQL NULL is null")
    if isinstance(t, pg.ENUM | sa.Enum):
        return _native(name, source, STRING, ALL)
    if isinstance(t, pg.INTERVAL):
        return _text(name, source, note="ISO 8601 text (IntervalStyle iso_8601), e.g. P1Y2M3DT4H5M6.789S")
    if isinstance(t, sa.ARRAY):
        return _text(name, source, note="the server's array literal, e.g. {1,NULL,3}")
    if isinstance(t, sa.String | sa.Integer | sa.Float | sa.Boolean | sa.LargeBinary):
        return None  # the generic rule
    return _text(name, source)  # inet, cidr, macaddr, bit, xml, tsvector, ranges, point, composite, unknown


class MysqlSpatial(sa.types.UserDefinedType[bytes]):
    """A MySQL/MariaDB spatial type, which SQLAlchemy's dialect does not know (it would reflect NullType, read as
    text: the server refuses to CAST a geometry to CHAR)."""

    cache_ok = True
    type_name = "geometry"

    def get_col_spec(self, **_: Any) -> str:
        return self.type_name


# the spatial types by the name the catalog reflects them as (the MySQL source adds them to its dialect's names)
MYSQL_SPATIAL_TYPES: dict[str, type[MysqlSpatial]] = {
    kind: type(kind.upper(), (MysqlSpatial,), {"type_name": kind, "cache_ok": True})
    for kind in ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
                 "geometrycollection", "geomcollection")}


def mysql_rule(name: str, t: Any, source: str) -> ColumnContract | None:
    """MySQL and MariaDB through PyMySQL's text protocol."""
    if isinstance(t, MysqlSpatial):
        return _native(name, source, BINARY, frozenset({PYARROW}),
                       note="the server's value: a 4-byte SRID (little-endian), then the WKB")
    if isinstance(t, mysql.BIT):
        bits = int(t.length or 1)
        lake = INT64 if bits < 64 else decimal_type(20, 0)
        return ColumnContract(name, source, lake, lake, Read.UNSIGNED, frozenset(), frozenset({PYARROW}))
    if isinstance(t, sa.Integer) and getattr(t, "unsigned", False):
        widths: dict[type[Any], int] = {mysql.TINYINT: 8, mysql.SMALLINT: 16, mysql.MEDIUMINT: 24}
        bits = widths.get(type(t), 32)
        if isinstance(t, sa.BigInteger):
            return _native(name, source, decimal_type(20, 0), frozenset({PYARROW}))
        return _integer(name, source, 64 if bits > 16 else bits * 2, frozenset({PYARROW}))
    if isinstance(t, mysql.YEAR):
        return _integer(name, source, 16, frozenset({PYARROW}))
    if isinstance(t, mysql.FLOAT) or (isinstance(t, sa.Float) and not isinstance(t, mysql.DOUBLE | sa.Double)
                                      and (t.precision or 0) <= 24):
        lake = float_type(32)
        return ColumnContract(name, source, lake, lake, Read.DOUBLE, frozenset(), frozenset({PYARROW}),
                              "read as double: the text protocol would round it to 6 digits")
    if isinstance(t, sa.Time):
        return _text(name, source, frozenset({PYARROW}), "the server's text: a duration of up to +-838:59:59")
    if isinstance(t, mysql.TIMESTAMP):
        return _native(name, source, TIMESTAMPTZ, frozenset({PYARROW}), _DATES,
                       "read in a UTC session: the instant")
    if isinstance(t, mysql.SET | mysql.ENUM | sa.JSON):
        return _native(name, source, STRING, frozenset({PYARROW}))
    if isinstance(t, mysql.INET4 | mysql.INET6) or type(t).__name__ in ("INET4", "INET6", "NullType"):
        return _text(name, source, frozenset({PYARROW}))
    return None


def mssql_rule(name: str, t: Any, source: str) -> ColumnContract | None:
    """SQL Server and Azure SQL through pyodbc or mssql-python (compiled and mapped here, no server runs)."""
    if isinstance(t, mssql.SMALLMONEY):
        return _native(name, source, decimal_type(10, 4), frozenset({PYARROW}))
    if isinstance(t, mssql.MONEY):
        return _native(name, source, decimal_type(19, 4), frozenset({PYARROW}))
    if isinstance(t, mssql.DATETIME2 | mssql.DATETIMEOFFSET | mssql.TIME) and (t.precision is None or t.precision > 6):
        lake = TIMESTAMPTZ if isinstance(t, mssql.DATETIMEOFFSET) else TIME if isinstance(t, mssql.TIME) else TIMESTAMP
        return ColumnContract(name, source, lake, lake, Read.ISO_TEXT, _DATES, frozenset({PYARROW}),
                              "read as ISO 8601 text: the driver would drop the 100 ns digit; a value that has "
                              "one fails the job (Parquet keeps microseconds)")
    if isinstance(t, mssql.DATETIMEOFFSET):
        return _native(name, source, TIMESTAMPTZ, frozenset({PYARROW}), _DATES,
                       "the instant; the original offset is not kept (Parquet stores UTC)")
    if isinstance(t, mssql.UNIQUEIDENTIFIER):
        return _text(name, source, frozenset({PYARROW}))
    if isinstance(t, mssql.TIMESTAMP | mssql.ROWVERSION):
        return _native(name, source, BINARY, frozenset({PYARROW}))
    if isinstance(t, mssql.XML | mssql.SQL_VARIANT) or type(t).__name__ == "NullType":
        return _text(name, source, frozenset({PYARROW}))
    if isinstance(t, mssql.TINYINT):
        return _integer(name, source, 16, frozenset({PYARROW}))
    return None


def oracle_rule(name: str, t: Any, source: str) -> ColumnContract | None:
    """Oracle through python-oracledb (compiled and mapped here, no server runs)."""
    if isinstance(t, oracle.NUMBER):
        if t.precision is None:
            return _decimal(name, source, None, None, frozenset({PYARROW}))
        if not t.scale and t.precision <= 18:
            return _integer(name, source, 64, frozenset({PYARROW}))
        return _decimal(name, source, t.precision, t.scale, frozenset({PYARROW}))
    if isinstance(t, oracle.BINARY_FLOAT):
        return _native(name, source, float_type(32), frozenset({PYARROW}))
    if isinstance(t, oracle.DATE):
        return _native(name, source, TIMESTAMP, frozenset({PYARROW}), _DATES,
                       "an Oracle DATE has a time of day: naive timestamp")
    if isinstance(t, oracle.INTERVAL) or type(t).__name__ in ("ROWID", "NullType"):
        return _text(name, source, frozenset({PYARROW}))
    return None


def sqlite_rule(name: str, t: Any, source: str) -> ColumnContract | None:
    """SQLite stores every integer in up to 8 bytes and every float as an 8-byte double, whatever the
    declared name says."""
    if isinstance(t, sa.Integer) and not isinstance(t, sa.Boolean):
        return _integer(name, source, 64, frozenset({PYARROW}))
    if isinstance(t, sa.Float):
        return _native(name, source, float_type(64), frozenset({PYARROW}))
    return None


def generic_rule(name: str, t: Any, source: str) -> ColumnContract:
    """SQLAlchemy's generic types: what every dialect shares (SQLite is all generic)."""
    if isinstance(t, sa.Boolean):
        return _native(name, source, BOOL)
    if isinstance(t, sa.Integer):
        bits = 16 if isinstance(t, sa.SmallInteger) else 64 if isinstance(t, sa.BigInteger) else 32
        return _integer(name, source, bits)
    if isinstance(t, sa.Float):
        bits = 32 if isinstance(t, sa.REAL | pg.REAL) and not isinstance(t, sa.Double) else 64
        return _native(name, source, float_type(bits))
    if isinstance(t, sa.Numeric):
        return _decimal(name, source, t.precision, t.scale, ALL - {CONNECTORX})
    if isinstance(t, sa.DateTime):
        return _native(name, source, TIMESTAMPTZ if t.timezone else TIMESTAMP, ALL, _DATES)
    if isinstance(t, sa.Date):
        return _native(name, source, DATE, ALL, _DATES)
    if isinstance(t, sa.Time):
        return _native(name, source, TIME, ALL - {CONNECTORX}, frozenset({Check.TIME_OF_DAY}))
    if isinstance(t, sa.sql.sqltypes._Binary):
        return _native(name, source, BINARY)
    if isinstance(t, sa.Uuid):
        return _native(name, source, STRING, ALL, note="canonical lower-case text")
    if isinstance(t, sa.String):
        return _native(name, source, STRING)
    return _text(name, source)


DIALECT_RULES: dict[str, Rule] = {
    "postgresql": postgresql_rule, "mysql": mysql_rule, "mariadb": mysql_rule, "mssql": mssql_rule,
    "oracle": oracle_rule, "sqlite": sqlite_rule,
}


def contract_for(name: str, sql_type: Any, dialect: Any) -> ColumnContract:
    """The contract of one reflected column for `dialect` (a SQLAlchemy dialect)."""
    source = source_type_name(sql_type, dialect)
    rule = DIALECT_RULES.get(dialect.name)
    found = rule(name, sql_type, source) if rule is not None else None
    return found or generic_rule(name, sql_type, source)


OVERRIDE_TYPES = ("text", "int64", "decimal(p,s)", "timestamptz")
_DECIMAL_OVERRIDE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def override_type(text: str) -> LakeType | None:
    """The lake type an analyst's `column_types` override names, or None when it names none of them."""
    spelled = text.strip().lower()
    if spelled == "text":
        return STRING
    if spelled == "int64":
        return INT64
    if spelled == "timestamptz":
        return TIMESTAMPTZ
    found = _DECIMAL_OVERRIDE.match(spelled)
    if found:
        precision, scale = int(found.group(1)), int(found.group(2))
        if 0 < precision <= MAX_DECIMAL_DIGITS and scale <= precision:
            return decimal_type(precision, scale)
    return None


def with_override(contract: ColumnContract, lake: LakeType) -> ColumnContract:
    """The analyst knows better: `lake` it is. A timestamp declared UTC keeps its read (the wall clock is the
    instant); anything else is read as the server's text and cast to `lake`, which fails on any loss."""
    if lake == TIMESTAMPTZ and contract.lake in (TIMESTAMP, TIMESTAMPTZ):
        return ColumnContract(contract.name, contract.source_type, lake, lake, contract.read, contract.checks,
                              contract.readers, "override: the wall clock is UTC")
    if contract.lake == lake:  # already what the analyst asked for: read as before
        return ColumnContract(contract.name, contract.source_type, lake, lake, contract.read, contract.checks,
                              contract.readers, f"override: {lake.name}")
    readers = contract.readers - {DUCKDB}
    return ColumnContract(contract.name, contract.source_type, lake, lake, Read.SERVER_TEXT, frozenset(),
                          readers if lake != STRING else readers | {PYARROW, ADBC}, f"override: {lake.name}")
