"""Keeping source types exact on the way to Parquet, whatever the dialect reflects.

dlt maps a reflected SQLAlchemy type to a lake type. Some reflections would lose values silently:
Oracle `NUMBER(p, 0)` and unconstrained `NUMBER` reflect as non-decimal numerics (dlt makes them
float), an unconstrained PostgreSQL `numeric` has no scale (dlt would pick its default), SQL Server
`MONEY` is no numeric at all and `DATETIMEOFFSET` does not say it carries a zone. Each is replaced here
by a type that holds every value exactly.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, oracle

UNBOUNDED_PRECISION = 38
UNBOUNDED_SCALE = 10  # an unconstrained NUMERIC/NUMBER lands as decimal(38, 10); more decimals fail loudly
MAX_BIGINT_DIGITS = 18


def exact_type(sql_type: Any) -> Any:
    """dlt `type_adapter_callback`: the type to map (returning None would make dlt drop the type hint)."""
    if isinstance(sql_type, sa.Float):  # SQLAlchemy 2.1: Float is no Numeric, so dlt would give no type
        return sa.Numeric(asdecimal=False)
    return exact_value_type(sql_type)


def exact_value_type(sql_type: Any) -> Any:
    """The type whose result processing returns exact values (Decimal, int) for the column."""
    if isinstance(sql_type, mssql.SMALLMONEY):
        return sa.Numeric(10, 4, asdecimal=True)
    if isinstance(sql_type, mssql.MONEY):
        return sa.Numeric(19, 4, asdecimal=True)
    if isinstance(sql_type, mssql.DATETIMEOFFSET) and not sql_type.timezone:
        return mssql.DATETIMEOFFSET(precision=getattr(sql_type, "precision", None), timezone=True)
    if not isinstance(sql_type, sa.Numeric):
        return sql_type
    precision, scale = sql_type.precision, sql_type.scale
    if precision is None:
        if isinstance(sql_type, oracle.NUMBER) and scale == 0:
            return sa.Numeric(UNBOUNDED_PRECISION, 0, asdecimal=True)
        return sa.Numeric(UNBOUNDED_PRECISION, UNBOUNDED_SCALE, asdecimal=True)
    if isinstance(sql_type, oracle.NUMBER) and not scale:
        return sa.BigInteger() if precision <= MAX_BIGINT_DIGITS else sa.Numeric(precision, 0, asdecimal=True)
    if not sql_type.asdecimal:
        return sa.Numeric(precision, scale, asdecimal=True)
    return sql_type


def exact_table(table: sa.Table) -> None:
    """dlt `table_adapter_callback`: fetch values through the exact types too (an Oracle NUMBER reflected
    without `asdecimal` would otherwise be converted to float by SQLAlchemy before dlt sees it)."""
    for column in table.columns:
        column.type = exact_value_type(column.type)
