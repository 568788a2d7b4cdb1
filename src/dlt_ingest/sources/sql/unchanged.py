"""Which INCREMENTAL jobs of one database have nothing new, asked for every candidate of a source at once.

dlt's read of an INCREMENTAL table selects `cursor >= last_value` and then drops the rows at exactly
`last_value` whose primary key hash its state holds (`unique_hashes`). It takes nothing, and leaves the
state as it was, when no row lies after the cursor and every row at the cursor is one it stored. A
UNION ALL over the source's candidate tables asks that of all of them in one statement (one snapshot):
per table the rows after the cursor, the rows at it, the rows with a NULL cursor (for the warning), and
the primary keys of the rows at the cursor, hashed here with dlt's own function.

A job qualifies only where the answer cannot differ from dlt's: the same filter on the same column type
as dlt's query, a cursor whose values order alike in SQL and in Arrow (numbers, dates, timestamps whose
zone matches the stored value), keys the driver returns as plain int or str, and a catalog matching what
the last load recorded (a changed one changes the state). Anything else, or any error: the job runs its
pipeline, which is always right.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import pyarrow as pa
import sqlalchemy as sa
from dlt.extract.utils import digest_dedup_value, has_legacy_dedup_hashes, resolve_column_value

from dlt_ingest.sources.base import NothingNew, StoredCursor
from dlt_ingest.sources.sql.contract import TableContract, adapt_table
from dlt_ingest.sources.sql.cursor import null_cursor_warning
from dlt_ingest.sources.sql.session import DatabaseSession
from dlt_ingest.sources.sql.stability import settle, stored_columns
from dlt_ingest.sources.sql.types import LakeType, Read
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.sources")

TABLES_PER_STATEMENT = 500  # bounds one statement's size; a source of more tables asks in several


class ReadPlanner(Protocol):
    """What of a database source the check uses (its `DatabaseSource`)."""

    def check_credentials(self, credentials: Any) -> list[str]: ...

    def describe_target(self, credentials: Any) -> str: ...

    def plan_read(self, job: Job, source_session: DatabaseSession[Any], target: str
                  ) -> tuple[sa.Table, TableContract, Any, str]: ...


@dataclass(frozen=True)
class _Check:
    """One candidate table: the cursor column typed as dlt's query types it, its key columns, and the key
    types as reflected (the typed NULLs other branches of the UNION put in the key's places)."""

    job: Job
    stored: StoredCursor
    table: sa.Table
    cursor: sa.Column[Any]
    keys: tuple[sa.Column[Any], ...]
    key_types: tuple[Any, ...]
    signature: tuple[str, ...]  # the key types as the dialect spells them: tables alike share the places


def find_nothing_new(source: ReadPlanner, candidates: Sequence[tuple[Job, StoredCursor]],
                     session: DatabaseSession[Any]) -> dict[str, NothingNew]:
    checks = [c for c in (_plan(source, session, job, stored) for job, stored in candidates) if c is not None]
    found: dict[str, NothingNew] = {}
    if not checks:
        return found
    try:
        with session.engine.connect() as connection:
            for start in range(0, len(checks), TABLES_PER_STATEMENT):
                found.update(_ask(connection, checks[start:start + TABLES_PER_STATEMENT]))
    except sa.exc.SQLAlchemyError as exc:  # the source is unreachable: every job finds out on its own
        log.info("the check for new rows could not reach the source (%s): the jobs run their pipelines",
                 type(exc).__name__)
    return found


def _plan(source: ReadPlanner, session: DatabaseSession[Any], job: Job, stored: StoredCursor) -> _Check | None:
    """The job's table as its read would see it, or None when the check could differ from dlt (or fails:
    the job's own run then reports whatever is wrong)."""
    try:
        if source.check_credentials(session.credentials):
            return None
        table, contract, incremental, _ = source.plan_read(job, session, source.describe_target(session.credentials))
        if incremental is None or incremental.cursor_path != stored.cursor_path:
            return None
        if settle(contract, stored.lake_columns, None, job.evolves, job.name, job.row):
            return None  # a schema change: the load records it
        if stored_columns(contract, stored.lake_columns) != stored.lake_columns:
            return None
        name = stored.cursor_path
        if _overridden(job, name) or not _orders_alike(contract.lake_types[name], stored.last_value):
            return None
        if any(_overridden(job, key) or not _plain_key(contract, table, key) for key in job.primary_key):
            return None
        key_types = tuple(table.c[key].type for key in job.primary_key)
        signature = tuple(str(kind.compile(dialect=session.engine.dialect)) for kind in key_types)
        adapt_table(table, contract)  # the table is this check's own copy; dlt's query binds on these types
        return _Check(job, stored, table, table.c[name], tuple(table.c[key] for key in job.primary_key), key_types,
                      signature)
    except Exception:  # any doubt: the job's pipeline decides
        return None


def _overridden(job: Job, column: str) -> bool:
    return column.lower() in {name.lower() for name in job.column_types}


def _orders_alike(lake: LakeType, value: Any) -> bool:
    """Whether SQL and Arrow order the cursor's values alike, and the stored value is of the column's kind (a
    timestamp's zone included: dlt would otherwise adapt it, warning, and store it anew)."""
    arrow = lake.arrow
    if isinstance(value, bool):
        return False
    if pa.types.is_integer(arrow):
        return isinstance(value, int)
    if pa.types.is_decimal(arrow):
        return isinstance(value, Decimal | int)
    if pa.types.is_date32(arrow):
        return isinstance(value, date) and not isinstance(value, datetime)
    if pa.types.is_timestamp(arrow):
        return isinstance(value, datetime) and (value.tzinfo is not None) == (arrow.tz is not None)
    return False  # text orders by collation in SQL but by bytes in Arrow; floats: not worth the doubt


def _plain_key(contract: TableContract, table: sa.Table, name: str) -> bool:
    """A key the driver returns as the same int or str the lake holds, so it hashes as dlt hashes it."""
    if contract.column(name).read is not Read.NATIVE:
        return False
    try:
        python = table.c[name].type.python_type
    except NotImplementedError:
        return False
    arrow = contract.lake_types[name].arrow
    return (pa.types.is_integer(arrow) and python is int) or (pa.types.is_string(arrow) and python is str)


def _ask(connection: sa.Connection, checks: Sequence[_Check]) -> dict[str, NothingNew]:
    """One statement for `checks`; a table the statement fails on (dropped meanwhile, no permission) is
    found by halving, so only its own job loses the check."""
    try:
        rows = connection.execute(_query(checks)).all()
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        connection.rollback()
        if len(checks) == 1:
            return {}
        half = len(checks) // 2
        return {**_ask(connection, checks[:half]), **_ask(connection, checks[half:])}
    connection.rollback()
    return _verdicts(checks, rows)


def _places(checks: Sequence[_Check]) -> tuple[dict[tuple[str, ...], int], list[Any]]:
    """Where each key signature's columns sit in the UNION's rows (after t, kind, newer, at, nulls), and the
    typed NULL of every key place."""
    offsets: dict[tuple[str, ...], int] = {}
    nulls: list[Any] = []
    for check in checks:
        if check.signature not in offsets:
            offsets[check.signature] = len(nulls)
            nulls += [sa.cast(sa.null(), kind) for kind in check.key_types]
    return offsets, nulls


def _query(checks: Sequence[_Check]) -> Any:
    offsets, nulls = _places(checks)
    no_count = sa.cast(sa.null(), sa.BigInteger())
    one: Any = sa.literal_column("1")
    branches: list[Any] = []
    for index, check in enumerate(checks):
        cursor, value = check.cursor, sa.bindparam(f"v{index}", check.stored.last_value, type_=check.cursor.type)
        tag = sa.literal_column(str(index), sa.Integer()).label("t")
        places = [null.label(f"k{place}") for place, null in enumerate(nulls)]
        counted = sa.select(
            tag, sa.literal_column("0", sa.Integer()).label("kind"),
            sa.func.count(sa.case((cursor > value, one))).label("newer"),
            sa.func.count(sa.case((cursor == value, one))).label("at"),
            sa.func.count(sa.case((cursor.is_(None), one))).label("nulls"), *places,
        ).select_from(check.table).where(sa.or_(cursor >= value, cursor.is_(None)))
        first = offsets[check.signature]
        for position, key in enumerate(check.keys):
            places[first + position] = key.label(f"k{first + position}")
        boundary = sa.select(
            sa.literal_column(str(index), sa.Integer()).label("t"), sa.literal_column("1", sa.Integer()).label("kind"),
            no_count.label("newer"), no_count.label("at"), no_count.label("nulls"), *places,
        ).select_from(check.table).where(cursor == value).limit(len(check.stored.unique_hashes) + 1).subquery()
        branches += [counted, sa.select(*boundary.c)]
    return sa.union_all(*branches)


def _verdicts(checks: Sequence[_Check], rows: Sequence[Any]) -> dict[str, NothingNew]:
    offsets, _ = _places(checks)
    counts: dict[int, tuple[int, int, int]] = {}
    keys: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        index = int(row[0])
        if int(row[1]) == 0:
            counts[index] = (int(row[2]), int(row[3]), int(row[4]))
        else:
            first = 5 + offsets[checks[index].signature]
            keys.setdefault(index, []).append(tuple(row[first:first + len(checks[index].keys)]))
    found: dict[str, NothingNew] = {}
    for index, check in enumerate(checks):
        newer, at, nulls = counts.get(index, (1, 0, 0))
        boundary = keys.get(index, [])
        if newer or at > len(check.stored.unique_hashes) or len(boundary) != at:
            continue
        if not _all_stored(check, boundary):
            continue  # a row at the cursor dlt has not loaded (e.g. deleted and inserted again): it reads
        warnings = (null_cursor_warning(nulls, check.stored.cursor_path),) if nulls else ()
        found[check.job.name] = NothingNew(at, nulls, warnings)
    return found


def _all_stored(check: _Check, boundary: list[tuple[Any, ...]]) -> bool:
    """Every row at the cursor is one dlt stored: its primary key hashes, as dlt hashes it, among `unique_hashes`
    (hashes written before dlt 1.29 are compared in their own form, as dlt does)."""
    stored = set(check.stored.unique_hashes)
    legacy = has_legacy_dedup_hashes(stored)
    names = list(check.job.primary_key)
    return all(digest_dedup_value(resolve_column_value(names, dict(zip(names, values, strict=True))), legacy)
               in stored for values in boundary)
