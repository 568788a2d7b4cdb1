"""The catalog's SQL text: Parquet types to Databricks SQL types, quoting, and what is refused."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from dlt_ingest.errors import CatalogError
from dlt_ingest.records.catalog_sql import ObjectName, column_definitions, literal, quote, same_type, sql_type
from spark_session import rows


@pytest.mark.parametrize(("kind", "expected"), [
    (pa.bool_(), "BOOLEAN"), (pa.int8(), "TINYINT"), (pa.int16(), "SMALLINT"), (pa.int32(), "INT"),
    (pa.int64(), "BIGINT"), (pa.uint8(), "SMALLINT"), (pa.uint32(), "BIGINT"), (pa.uint64(), "DECIMAL(20,0)"),
    (pa.float32(), "FLOAT"), (pa.float64(), "DOUBLE"), (pa.decimal128(38, 10), "DECIMAL(38,10)"),
    (pa.string(), "STRING"), (pa.large_string(), "STRING"), (pa.binary(), "BINARY"), (pa.binary(16), "BINARY"),
    (pa.date32(), "DATE"), (pa.timestamp("us"), "TIMESTAMP_NTZ"), (pa.timestamp("ms", "UTC"), "TIMESTAMP"),
    (pa.dictionary(pa.int32(), pa.string()), "STRING"), (pa.list_(pa.int64()), "ARRAY<BIGINT>"),
    (pa.struct([("a b", pa.string()), ("n", pa.list_(pa.float64()))]), "STRUCT<`a b`: STRING, `n`: ARRAY<DOUBLE>>"),
    (pa.map_(pa.string(), pa.int32()), "MAP<STRING, INT>"),
])
def test_parquet_types_map_to_the_databricks_type_that_reads_them_exactly(kind: pa.DataType, expected: str) -> None:
    assert sql_type(kind, "c") == expected


@pytest.mark.parametrize("kind", [
    pa.time64("us"), pa.duration("s"), pa.float16(), pa.decimal256(40, 2), pa.timestamp("ns"), pa.null(),
    pa.list_(pa.time32("s")),
], ids=str)
def test_a_column_no_databricks_type_reads_exactly_is_refused_by_name(kind: pa.DataType) -> None:
    with pytest.raises(CatalogError) as raised:
        column_definitions(pa.schema([("id", pa.int64()), ("odd", kind)]))
    assert str(raised.value).startswith("column odd (")
    assert "has no Databricks SQL type that reads it exactly" in str(raised.value)


@pytest.mark.parametrize("text", ["plain", "it's", "back\\slash", "both \\' at once", "naïve — ✓"])
def test_string_literals_read_back_exactly_in_spark(spark: Any, text: str) -> None:
    assert rows(spark, f"SELECT {literal(text)}") == [(text,)]


def test_identifiers_are_backquoted_with_backquotes_doubled(spark: Any) -> None:
    assert quote("a`b") == "`a``b`"
    assert str(ObjectName("main", "my schema", "t`1")) == "`main`.`my schema`.`t``1`"
    assert rows(spark, f"SELECT 1 AS {quote('odd `name`')}")[0] == (1,)
    assert spark.sql(f"SELECT 1 AS {quote('odd `name`')}").columns == ["odd `name`"]


def test_types_compare_as_describe_prints_them() -> None:
    assert same_type("DECIMAL(12,2)", "decimal(12,2)")
    assert same_type("STRUCT<`a`: BIGINT>", "struct<a:bigint>")
    assert not same_type("INT", "bigint")
