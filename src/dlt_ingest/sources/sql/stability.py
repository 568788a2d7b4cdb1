"""A lake folder never changes a column's type silently: the lake types of the last run are the reference.

The contract's type of a column is what a new lake gets. Once a folder holds a type, it keeps it as long
as every value of the source column fits it exactly (an `integer` column keeps landing as int32 in a
folder an older version wrote that way; a source `integer` widened to `bigint` still lands in an int64
folder). A change the folder's type cannot hold fails the job with the fix, unless the analyst opted into
evolution for the row (`schema_evolution = evolve`): then the folder holds the new type from this load on.
Added, dropped and retyped columns are found from the catalog before anything is read, and reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from dlt_ingest.errors import TypeContractError
from dlt_ingest.results import ColumnChange
from dlt_ingest.sources.keys import TOMBSTONE_COLUMN
from dlt_ingest.sources.sql.contract import TableContract
from dlt_ingest.sources.sql.types import (
    BINARY,
    BOOL,
    DATE,
    STRING,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    LakeType,
    decimal_type,
    float_type,
    int_type,
)

_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_NAMED = {t.name: t for t in (STRING, BINARY, BOOL, DATE, TIME, TIMESTAMP, TIMESTAMPTZ)}


def lake_type_named(name: str) -> LakeType | None:
    if name in _NAMED:
        return _NAMED[name]
    if re.fullmatch(r"int(8|16|32|64)", name):
        return int_type(int(name[3:]))
    if name in ("float32", "float64"):
        return float_type(int(name[5:]))
    found = _DECIMAL.match(name)
    return decimal_type(int(found.group(1)), int(found.group(2))) if found else None


def lake_type_of(arrow: pa.DataType) -> LakeType | None:
    """The lake type a file's Arrow type is (files written before contracts were stored); None for a type
    outside the contract (e.g. a struct an older version inferred from JSON)."""
    if pa.types.is_large_string(arrow) or pa.types.is_string(arrow):
        return STRING
    if pa.types.is_large_binary(arrow) or pa.types.is_binary(arrow):
        return BINARY
    if pa.types.is_signed_integer(arrow):
        return int_type(arrow.bit_width)
    if pa.types.is_floating(arrow) and arrow.bit_width in (32, 64):
        return float_type(arrow.bit_width)
    if pa.types.is_decimal(arrow):
        return decimal_type(arrow.precision, arrow.scale)
    if pa.types.is_timestamp(arrow):
        return TIMESTAMPTZ if arrow.tz else TIMESTAMP
    for kind in (BOOL, DATE, TIME):
        if arrow == kind.arrow:
            return kind
    return None


def fits(natural: LakeType, established: LakeType) -> bool:
    """Whether every value of a column whose values are of type `natural` lands in `established` exactly."""
    have, want = natural.arrow, established.arrow
    if have == want:
        return True
    if pa.types.is_integer(have) and pa.types.is_signed_integer(want):
        return have.bit_width < want.bit_width or (have.bit_width == want.bit_width and
                                                    pa.types.is_signed_integer(have))
    if pa.types.is_integer(have) and pa.types.is_decimal(want):
        return want.precision - want.scale >= len(str(2 ** have.bit_width))
    if pa.types.is_float32(have) and pa.types.is_float64(want):
        return True
    if pa.types.is_decimal(have) and pa.types.is_decimal(want):
        return want.scale >= have.scale and want.precision - want.scale >= have.precision - have.scale
    return False


def settle(contract: TableContract, stored: Mapping[str, Mapping[str, Any]] | None, legacy: pa.Schema | None,
           evolve: bool, job_name: str, row: int) -> list[ColumnChange]:
    """Fix each column's lake type from what the lake holds and return the changes since the last run;
    raise `TypeContractError` for a type change the lake's folder cannot hold (unless `evolve`)."""
    if stored is None and legacy is None:
        return []  # a new table: the contract's types
    previous: dict[str, tuple[str, LakeType | None]] = {}
    if stored is not None:
        previous = {name: (str(info.get("source", "")), lake_type_named(str(info.get("lake", ""))))
                    for name, info in stored.items() if not info.get("dropped")}
    elif legacy is not None:
        previous = {f.name: ("", lake_type_of(f.type)) for f in legacy
                    if not f.name.startswith("_dlt_") and f.name != TOMBSTONE_COLUMN}
    changes: list[ColumnChange] = []
    refused: list[str] = []
    for column in contract.columns:
        if column.name not in previous:
            changes.append(ColumnChange(column.name, "added", new_type=column.source_type))
            continue
        old_source, established = previous[column.name]
        source_changed = bool(old_source) and old_source != column.source_type
        if established is not None and fits(column.natural, established):
            contract.lake_types[column.name] = established
            if source_changed:
                changes.append(ColumnChange(column.name, "retyped", old_source, column.source_type))
            continue
        old = established.name if established is not None else "an older type"
        if not evolve:
            change = (f"{old_source} -> {column.source_type}" if old_source and old_source != column.source_type
                      else f"{column.source_type}, its lake type set anew in the workbook")
            refused.append(f"{column.name} ({change}: the folder holds {old}, the column now lands as "
                           f"{column.lake.name})")
            continue
        changes.append(ColumnChange(column.name, "retyped", old_source or old, column.source_type))
    for name, (old_source, established) in previous.items():
        if name not in contract.lake_types:
            changes.append(ColumnChange(name, "dropped", old_type=old_source or (established.name if established
                                                                                  else "")))
    if refused:
        raise TypeContractError(
            f"{job_name}: the type of {len(refused)} column(s) changed in a way the lake's folder cannot hold: "
            f"{'; '.join(refused)}. To accept it, set schema_evolution to evolve in workbook row {row} (the folder "
            f"then holds both types: tell its readers), or give the column a column_types override that holds "
            f"both (e.g. text)")
    return changes


def stored_columns(contract: TableContract, previous: Mapping[str, Mapping[str, Any]] | None
                   ) -> dict[str, dict[str, Any]]:
    """What the next run compares with: each column's source type and lake type, and dropped columns."""
    columns: dict[str, dict[str, Any]] = {
        c.name: {"source": c.source_type, "lake": contract.lake_types[c.name].name} for c in contract.columns}
    for name, info in (previous or {}).items():
        if name not in columns:
            columns[name] = {**info, "dropped": True}
    return columns
