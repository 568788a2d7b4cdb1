"""What every SQL source shares: an engine from credentials, a checked table, and dlt's `sql_table`.

A subclass only says how to build its `sqlalchemy.engine.URL` (never by string formatting, so any
character in a password works) and which backend extracts it fastest while keeping values exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar

import dlt
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from sqlalchemy.engine import URL, Engine

from dlt_ingest.config.model import Job, WatermarkValue
from dlt_ingest.errors import SourceError
from dlt_ingest.secrets.redaction import redact
from dlt_ingest.sources.base import PreparedSource, SourceModule

DEFAULT_CHUNK_SIZE = 50_000


class DatabaseSource(SourceModule):
    family: ClassVar[str] = "database"
    backend: ClassVar[str] = "pyarrow"

    def url(self, credentials: Any) -> URL:
        raise NotImplementedError

    def engine_options(self, credentials: Any) -> dict[str, Any]:
        return {}

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

    @contextmanager
    def prepare(self, job: Job, credentials: Any) -> Iterator[PreparedSource]:
        engine = self.create_engine(credentials)
        try:
            columns = self._table_columns(job, engine, credentials)
            warnings: list[str] = []
            incremental = None
            if job.is_incremental and job.watermark_column:
                column = _find_column(job, columns)
                initial = convert_watermark(job, column["type"])
                incremental = dlt.sources.incremental(
                    column["name"], initial_value=initial, on_cursor_value_missing="exclude"
                )
                nulls = _count_nulls(engine, job, column["name"])
                if nulls:
                    warnings.append(
                        f"{nulls} row(s) have a NULL {column['name']} and can never be picked up by the "
                        f"watermark: give them a value or load this table with FULL"
                    )
            resource = sql_table(
                credentials=engine,
                table=job.table_name,
                schema=job.schema_name,
                incremental=incremental,
                chunk_size=job.chunk_size or DEFAULT_CHUNK_SIZE,
                backend=self.backend,  # type: ignore[arg-type]
                reflection_level="full_with_precision",
                primary_key=list(job.primary_key) or None,  # type: ignore[arg-type]
                write_disposition="append",
            )
            yield PreparedSource(resource, warnings, self.describe_target(credentials))
        finally:
            engine.dispose()

    def _table_columns(self, job: Job, engine: Engine, credentials: Any) -> list[dict[str, Any]]:
        where = f"schema '{job.schema_name}'" if job.schema_name else "the connection's default schema"
        try:
            inspector = sa.inspect(engine)
            if not inspector.has_table(job.table_name, schema=job.schema_name):
                raise SourceError(
                    f"{job.name}: table '{job.table_name}' not found in {where} of "
                    f"{self.describe_target(credentials)}: check table_name and schema_name "
                    f"(names are case-sensitive when quoted)."
                )
            return [dict(c) for c in inspector.get_columns(job.table_name, schema=job.schema_name)]
        except sa.exc.SQLAlchemyError as exc:
            reason = redact(str(getattr(exc, "orig", None) or exc)).strip().splitlines()[0]
            raise SourceError(
                f"{job.name}: cannot connect to {self.describe_target(credentials)}: {reason}"
            ) from None


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
            if getattr(column_type, "timezone", False) and result.tzinfo is None:
                result = result.replace(tzinfo=timezone.utc)
            return result
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
