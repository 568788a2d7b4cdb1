"""The Databricks SQL that registers a job's lake folder in Unity Catalog: pure text, no connection.

Per source: a JSON table over `_dlt_loads` (a load is complete when its record is there). Per job: an
external Parquet table over the history (`<table>__history`), a view of the rows a reader should see
(`<table>`: the latest complete FULL snapshot, or the latest version per primary key of an INCREMENTAL
table without deleted keys) and, when the job keeps one, the `<table>_current` Delta table.

The view is the reading rule in SQL: a data file's load id is the first two dot-separated parts of its
name (`_metadata.file_name`), and only files whose load id has a completion record count, so a file of a
load that died (or is still running) is never seen. Identifiers are quoted with backticks, strings are
literals with `\\` and `'` escaped; every object carries the `dlt_ingest.created_by` property so a later
run replaces only what dlt-ingest created.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from dlt_ingest.errors import CatalogError
from dlt_ingest.workbook.model import Job

MARKER_KEY, MARKER_VALUE = "dlt_ingest.created_by", "dlt-ingest"
JOB_KEY, KIND_KEY = "dlt_ingest.job", "dlt_ingest.object"
REGISTERED_LOAD_KEY = "dlt_ingest.registered_through_load"  # the newest load whose columns are declared
TOMBSTONE_COLUMN = "_deleted_at"  # delete detection writes a row with the key and this timestamp set
LOAD_COLUMN, VERSION_COLUMN = "__dlt_ingest_load_id", "__dlt_ingest_version"
LOADS_COLUMNS = (("load_id", "STRING"), ("schema_name", "STRING"), ("status", "BIGINT"),
                 ("inserted_at", "STRING"), ("schema_version_hash", "STRING"))
_LOAD_ORDER = f"CAST(`{LOAD_COLUMN}` AS DECIMAL(38, 18))"  # load ids are seconds since the epoch, as text


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class ObjectName:
    catalog: str
    schema: str
    name: str

    def __str__(self) -> str:
        return ".".join(quote(part) for part in (self.catalog, self.schema, self.name))


_INTEGERS = {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}
_UNSIGNED = {8: "SMALLINT", 16: "INT", 32: "BIGINT", 64: "DECIMAL(20,0)"}  # how Spark reads Parquet UINT_n


def sql_type(kind: pa.DataType, column: str) -> str:
    """The Databricks SQL type that reads this Parquet column exactly; `CatalogError` naming the column if none."""
    t = pa.types
    if t.is_dictionary(kind):
        return sql_type(kind.value_type, column)
    if t.is_boolean(kind):
        return "BOOLEAN"
    if t.is_signed_integer(kind):
        return _INTEGERS[kind.bit_width]
    if t.is_unsigned_integer(kind):
        return _UNSIGNED[kind.bit_width]
    if t.is_float32(kind):
        return "FLOAT"
    if t.is_float64(kind):
        return "DOUBLE"
    if t.is_decimal(kind) and kind.precision <= 38:
        return f"DECIMAL({kind.precision},{kind.scale})"
    if t.is_string(kind) or t.is_large_string(kind) or t.is_string_view(kind):
        return "STRING"
    if t.is_binary(kind) or t.is_large_binary(kind) or t.is_fixed_size_binary(kind) or t.is_binary_view(kind):
        return "BINARY"
    if t.is_date(kind):
        return "DATE"
    if t.is_timestamp(kind) and kind.unit != "ns":
        return "TIMESTAMP" if kind.tz else "TIMESTAMP_NTZ"
    if t.is_list(kind) or t.is_large_list(kind) or t.is_fixed_size_list(kind):
        return f"ARRAY<{sql_type(kind.value_type, column)}>"
    if t.is_map(kind):
        return f"MAP<{sql_type(kind.key_type, column)}, {sql_type(kind.item_type, column)}>"
    if t.is_struct(kind):
        members = ", ".join(f"{quote(f.name)}: {sql_type(f.type, column)}" for f in kind)
        return f"STRUCT<{members}>"
    raise CatalogError(f"column {column} ({kind}) has no Databricks SQL type that reads it exactly")


def column_definitions(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(field.name, sql_type(field.type, field.name)) for field in schema]


def same_type(declared: str, catalog_type: str) -> bool:
    """`DECIMAL(12,2)` as we write it and `decimal(12,2)` as DESCRIBE shows it are the same type."""
    def plain(text: str) -> str:
        return "".join(text.replace("`", "").split()).lower()
    return plain(declared) == plain(catalog_type)


def _properties(owner: str, kind: str, *extra: tuple[str, str]) -> str:
    pairs = ((MARKER_KEY, MARKER_VALUE), (JOB_KEY, owner), (KIND_KEY, kind), *extra)
    return "TBLPROPERTIES (" + ", ".join(f"{literal(k)} = {literal(v)}" for k, v in pairs) + ")"


def _columns(columns: Sequence[tuple[str, str]]) -> str:
    return ",\n  ".join(f"{quote(name)} {kind}" for name, kind in columns)


def create_schema(catalog: str, schema: str) -> str:
    return (f"CREATE SCHEMA IF NOT EXISTS {quote(catalog)}.{quote(schema)} "
            f"COMMENT {literal('Lake tables registered by dlt-ingest')}")


def create_loads_table(name: ObjectName, location: str, source: str) -> str:
    comment = f"Completion records of the loads of source {source}: a load is complete once its record is here."
    return (f"CREATE TABLE IF NOT EXISTS {name} (\n  {_columns(LOADS_COLUMNS)}\n) USING JSON\n"
            f"LOCATION {literal(location)}\nCOMMENT {literal(comment)}\n{_properties(source, 'loads')}")


def create_history_table(name: ObjectName, location: str, columns: Sequence[tuple[str, str]], job: Job,
                         registered_through: str | None = None) -> str:
    extra = [(REGISTERED_LOAD_KEY, registered_through)] if registered_through else []
    comment = (f"Every file dlt-ingest wrote for {job.name} ({job.load_type.value}), completed or not: "
               f"query the view {quote(name.name.removesuffix('__history'))} for the rows to use.")
    return (f"CREATE TABLE IF NOT EXISTS {name} (\n  {_columns(columns)}\n) USING PARQUET\n"
            f"OPTIONS ('recursiveFileLookup' = 'true')\nLOCATION {literal(location)}\n"
            f"COMMENT {literal(comment)}\n{_properties(job.name, 'history', *extra)}")


def set_property(name: ObjectName, key: str, value: str) -> str:
    return f"ALTER TABLE {name} SET TBLPROPERTIES ({literal(key)} = {literal(value)})"


def add_columns(name: ObjectName, columns: Sequence[tuple[str, str]]) -> str:
    return f"ALTER TABLE {name} ADD COLUMNS (\n  {_columns(columns)}\n)"


def find_column(columns: Sequence[str], wanted: str) -> str | None:
    """The catalog's spelling of `wanted` among `columns` (names are case-insensitive in Databricks)."""
    return next((c for c in columns if c.lower() == wanted.lower()), None)


def live_rows_query(job: Job, history: ObjectName, loads: ObjectName, columns: Sequence[str],
                    primary_key: Sequence[str], watermark: str | None) -> str:
    """The rows a reader should see, from the history table's actual columns (tombstones when present)."""
    tombstone = find_column(columns, TOMBSTONE_COLUMN)
    listed = ", ".join(quote(c) for c in columns)
    ctes = [f"completed AS (SELECT DISTINCT `load_id` FROM {loads})",
            f"files AS (\n  SELECT {listed}, substring_index(_metadata.file_name, '.', 2) AS `{LOAD_COLUMN}`\n"
            f"  FROM {history}\n)",
            f"complete AS (SELECT * FROM files WHERE `{LOAD_COLUMN}` IN (SELECT `load_id` FROM completed))"]
    conditions = [f"{quote(tombstone)} IS NULL"] if tombstone else []
    source = "complete"
    if not job.is_incremental:
        conditions.insert(0, f"{_LOAD_ORDER} = (SELECT MAX({_LOAD_ORDER}) FROM complete)")
    elif primary_key:
        order = [f"{_LOAD_ORDER} DESC"]
        if tombstone:
            order.append(f"{quote(tombstone)} IS NOT NULL DESC")  # a key deleted in the same load stays deleted
        if watermark:
            order.append(f"{quote(watermark)} DESC NULLS LAST")
        keys = ", ".join(quote(k) for k in primary_key)
        ctes.append(f"ranked AS (\n  SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {', '.join(order)}) "
                    f"AS `{VERSION_COLUMN}`\n  FROM complete\n)")
        conditions.insert(0, f"`{VERSION_COLUMN}` = 1")
        source = "ranked"
    shown = ", ".join(quote(c) for c in columns if c != tombstone)
    where = ("\nWHERE " + " AND ".join(conditions)) if conditions else ""
    return "WITH " + ",\n".join(ctes) + f"\nSELECT {shown}\nFROM {source}{where}"


def view_comment(job: Job, primary_key: Sequence[str]) -> str:
    if not job.is_incremental:
        what = "the latest complete snapshot"
    elif primary_key:
        what = f"the latest version per {', '.join(primary_key)} from completed loads, deleted keys left out"
    else:
        what = "every row of completed loads (no primary_key: versions are not merged)"
    return f"{job.name} ({job.load_type.value}): {what}. Maintained by dlt-ingest after each run."


def create_view(name: ObjectName, query: str, job: Job, comment: str) -> str:
    return (f"CREATE OR REPLACE VIEW {name}\nCOMMENT {literal(comment)}\n{_properties(job.name, 'view')}\n"
            f"AS {query}")


def alter_view(name: ObjectName, query: str) -> str:
    """A new definition for an existing view of ours; unlike CREATE OR REPLACE it keeps the view's grants."""
    return f"ALTER VIEW {name} AS {query}"


def create_current_table(name: ObjectName, location: str) -> str:
    """Delta keeps its own schema; properties would have to match the ones in its log, so none are set."""
    return f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION {literal(location)}"


def sync_current_table(name: ObjectName) -> str:
    """Unity Catalog's copy of a Delta table's schema, brought up to date after dlt (delta-rs) wrote it."""
    return f"MSCK REPAIR TABLE {name} SYNC METADATA"


def refresh(name: ObjectName) -> str:
    """Forget the compute's cached file listing, so the next query sees the files this run wrote."""
    return f"REFRESH TABLE {name}"


def show_properties(name: ObjectName) -> str:
    return f"SHOW TBLPROPERTIES {name}"


def describe_columns(name: ObjectName, extended: bool = False) -> str:
    return f"DESCRIBE TABLE {'EXTENDED ' if extended else ''}{name}"
