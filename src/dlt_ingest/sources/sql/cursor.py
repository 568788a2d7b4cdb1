"""The watermark of an INCREMENTAL database job: dlt's cursor on it, the workbook's starting value in the
column's own type, and the same filter as SQL for counting what a window holds."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from dlt.extract.incremental import Incremental
from sqlalchemy.engine import Engine

from dlt_ingest.errors import RowMismatch
from dlt_ingest.workbook.model import Job, WatermarkValue

TCursorValue = TypeVar("TCursorValue")


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


def build_incremental(job: Job, columns: list[dict[str, Any]]) -> Incremental[Any] | None:
    """dlt's cursor on `watermark_column`, starting at `last_watermark` in the column's own type.

    The WHERE is `>=` the last value (dlt's closed range) and dlt drops the rows it already loaded
    at exactly that value (by primary key, or by row hash without one), so rows that share the
    boundary timestamp are loaded once; rows with a NULL cursor are excluded (and counted).
    """
    if not (job.is_incremental and job.watermark_column):
        return None
    column = find_column(job, columns)
    return IncrementalCursor[Any](
        column["name"], initial_value=convert_watermark(job, column["type"], column.get("zoned")),
        on_cursor_value_missing="exclude", row_order="asc",
    )


def find_column(job: Job, columns: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = job.watermark_column or ""
    for column in columns:
        if column["name"] == wanted:
            return column
    for column in columns:  # unquoted identifiers fold case in most databases
        if str(column["name"]).lower() == wanted.lower():
            return column
    known = ", ".join(str(c["name"]) for c in columns)
    raise RowMismatch(
        f"{job.name}: watermark_column '{wanted}' is not a column of table '{job.table_name}' "
        f"(columns: {known}): fix watermark_column in the workbook.", "watermark_column"
    )


def count_nulls(engine: Engine, job: Job, column: str) -> int:
    table = sa.table(job.table_name, sa.column(column), schema=job.schema_name)
    query = sa.select(sa.func.count()).select_from(table).where(table.c[column].is_(None))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)


def null_cursor_warning(nulls: int, column: str) -> str:
    return (f"{nulls} row(s) have a NULL {column} and can never be picked up by the watermark: give them a value or "
            f"load this table with FULL")


def count_query(job: Job, columns: list[dict[str, Any]], after: Any, until: Any) -> Any:
    """`SELECT count(*)` with the same cursor filter dlt's sql_table reads with: `after` (the cursor the run
    resumed from, else the workbook's `last_watermark`) <= cursor <= `until`, NULL cursors excluded."""
    if not (job.is_incremental and job.watermark_column):
        return sa.select(sa.func.count()).select_from(sa.table(job.table_name, schema=job.schema_name))
    found = find_column(job, columns)
    table = sa.table(job.table_name, sa.column(found["name"], found["type"]), schema=job.schema_name)
    cursor = table.c[found["name"]]
    conditions = [cursor.isnot(None)]
    start = convert_watermark(job, found["type"], found.get("zoned")) if after is None else after
    if start is not None:
        conditions.append(cursor >= start)
    if until is not None:
        conditions.append(cursor <= until)
    return sa.select(sa.func.count()).select_from(table).where(*conditions)


def _python_type(column_type: Any) -> Any:
    try:
        return column_type.python_type
    except (NotImplementedError, AttributeError):
        return None


def convert_watermark(job: Job, column_type: Any, zoned: bool | None = None) -> Any:
    """Turn the workbook's `last_watermark` into the column's Python type (dlt refuses strings on datetimes).
    `zoned`: whether the lake holds the column's values as instants (else the SQL type's own zone decides), so
    the first cursor value is as zone-aware as the rows dlt compares it with."""
    value: WatermarkValue | None = job.last_watermark
    if value is None:
        return None
    target = _python_type(column_type)
    try:
        if target is datetime:
            result = _as_datetime(value)
            if getattr(column_type, "timezone", False) if zoned is None else zoned:
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
        raise RowMismatch(
            f"{job.name}: last_watermark '{value}' does not fit column '{job.watermark_column}' of type "
            f"{column_type} ({exc}): type a value of that type in the workbook.", "last_watermark"
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
