"""The type contract without a server: each dialect's types, the SQL their reads compile to, the
type-stability rule, and the docs table generated from the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, oracle, sqlite
from sqlalchemy.dialects import postgresql as pg

from dlt_ingest.errors import TypeContractError
from dlt_ingest.sources.sql.contract import TableContract, read_expression
from dlt_ingest.sources.sql.stability import fits, lake_type_of, settle
from dlt_ingest.sources.sql.type_table import BEGIN, END, render
from dlt_ingest.sources.sql.types import (
    INT64,
    STRING,
    TIMESTAMP,
    Read,
    contract_for,
    decimal_type,
    float_type,
    int_type,
    override_type,
)

ROOT = Path(__file__).resolve().parents[1]
DIALECTS = {name: sa.dialects.registry.load(name)() for name in ("postgresql", "mysql", "sqlite", "mssql", "oracle")}


@pytest.mark.parametrize(("dialect", "sql_type", "lake", "read"), [
    ("postgresql", pg.SMALLINT(), "int64", Read.NATIVE),
    ("postgresql", pg.NUMERIC(), "decimal(38,10)", Read.NATIVE),
    ("postgresql", pg.NUMERIC(5, -2), "decimal(7,0)", Read.NATIVE),
    ("postgresql", pg.NUMERIC(50, 10), "string", Read.SERVER_TEXT),
    ("postgresql", pg.REAL(), "float32", Read.NATIVE),
    ("postgresql", pg.MONEY(), "decimal(19,2)", Read.NUMERIC),
    ("postgresql", pg.OID(), "int64", Read.BIGINT),
    ("postgresql", pg.JSONB(), "string", Read.SERVER_TEXT),
    ("postgresql", pg.INTERVAL(), "string", Read.SERVER_TEXT),
    ("postgresql", pg.ARRAY(pg.INTEGER()), "string", Read.SERVER_TEXT),
    ("postgresql", pg.TIME(timezone=True), "string", Read.SERVER_TEXT),
    ("postgresql", pg.TIMESTAMP(timezone=True), "timestamptz", Read.NATIVE),
    ("postgresql", pg.DOMAIN("amount", pg.NUMERIC(10, 2)), "decimal(10,2)", Read.NATIVE),
    ("postgresql", sa.types.NullType(), "string", Read.SERVER_TEXT),
    ("mysql", mysql.BIGINT(unsigned=True), "decimal(20,0)", Read.NATIVE),
    ("mysql", mysql.FLOAT(), "float32", Read.DOUBLE),
    ("mysql", mysql.BIT(64), "decimal(20,0)", Read.UNSIGNED),
    ("mysql", mysql.TIME(fsp=6), "string", Read.SERVER_TEXT),
    ("mysql", mysql.TIMESTAMP(fsp=6), "timestamptz", Read.NATIVE),
    ("mysql", mysql.DECIMAL(65, 30), "string", Read.SERVER_TEXT),
    ("sqlite", sqlite.INTEGER(), "int64", Read.NATIVE),
    ("sqlite", sqlite.REAL(), "float64", Read.NATIVE),
    ("mssql", mssql.MONEY(), "decimal(19,4)", Read.NATIVE),
    ("mssql", mssql.DATETIME2(), "timestamp", Read.ISO_TEXT),
    ("mssql", mssql.DATETIME2(precision=3), "timestamp", Read.NATIVE),
    ("mssql", mssql.DATETIMEOFFSET(), "timestamptz", Read.ISO_TEXT),
    ("mssql", mssql.UNIQUEIDENTIFIER(), "string", Read.SERVER_TEXT),
    ("oracle", oracle.NUMBER(), "decimal(38,10)", Read.NATIVE),
    ("oracle", oracle.NUMBER(10, 0), "int64", Read.NATIVE),
    ("oracle", oracle.NUMBER(30, 0), "decimal(30,0)", Read.NATIVE),
    ("oracle", oracle.DATE(), "timestamp", Read.NATIVE),
    ("oracle", oracle.BINARY_FLOAT(), "float32", Read.NATIVE),
])
def test_each_dialect_type_has_one_lake_type_and_one_way_to_read_it(dialect: str, sql_type: Any, lake: str,
                                                                    read: Read) -> None:
    contract = contract_for("c", sql_type, DIALECTS[dialect])
    assert (contract.lake.name, contract.read) == (lake, read)


@pytest.mark.parametrize(("dialect", "read", "sql"), [
    ("postgresql", Read.SERVER_TEXT, "CASE WHEN (num_nulls(t.c) = 1) THEN NULL ELSE concat(t.c) END"),
    ("postgresql", Read.NUMERIC, "CAST(t.c AS NUMERIC)"),
    ("postgresql", Read.BIGINT, "CAST(t.c AS BIGINT)"),
    ("mysql", Read.SERVER_TEXT, "CAST(t.c AS CHAR CHARACTER SET utf8mb4)"),
    ("mysql", Read.DOUBLE, "CAST(t.c AS DOUBLE)"),
    ("mysql", Read.UNSIGNED, "CAST(t.c AS UNSIGNED)"),
    ("mssql", Read.ISO_TEXT, "convert(VARCHAR(34), t.c, 127)"),
    ("mssql", Read.SERVER_TEXT, "CAST(t.c AS NVARCHAR(max))"),
    ("oracle", Read.SERVER_TEXT, "to_char(t.c)"),
])
def test_each_read_compiles_to_the_sql_of_its_dialect(dialect: str, read: Read, sql: str) -> None:
    column = sa.table("t", sa.column("c")).c.c
    compiled = read_expression(column, read, dialect).compile(dialect=DIALECTS[dialect],
                                                             compile_kwargs={"literal_binds": True})
    assert str(compiled) == sql


@pytest.mark.parametrize(("natural", "established", "expected"), [
    (int_type(32), INT64, True), (int_type(32), int_type(32), True), (int_type(64), int_type(32), False),
    (float_type(32), float_type(64), True), (float_type(64), float_type(32), False),
    (decimal_type(10, 2), decimal_type(12, 2), True), (decimal_type(10, 2), decimal_type(12, 3), True),
    (decimal_type(12, 3), decimal_type(10, 2), False), (decimal_type(10, 2), decimal_type(10, 3), False),
    (int_type(32), decimal_type(12, 0), True), (int_type(64), decimal_type(12, 0), False),
    (STRING, STRING, True), (INT64, STRING, False), (TIMESTAMP, STRING, False),
])
def test_a_folder_keeps_its_type_while_every_source_value_fits_it(natural: Any, established: Any,
                                                                  expected: bool) -> None:
    assert fits(natural, established) is expected


def _contract(*columns: tuple[str, Any]) -> TableContract:
    return TableContract.of("t", [sa.Column(name, kind) for name, kind in columns], DIALECTS["postgresql"])


def test_a_legacy_folder_of_int32_keeps_landing_int32_and_refuses_what_no_longer_fits() -> None:
    legacy = pa.schema([("qty", pa.int32()), ("doc", pa.struct([("a", pa.float64())])), ("_dlt_id", pa.string())])
    contract = _contract(("qty", pg.INTEGER()))
    assert [str(c) for c in settle(contract, None, legacy, False, "job", 2)] == ["dropped doc"]
    assert contract.lake_types["qty"].name == "int32"
    with pytest.raises(TypeContractError, match=r"doc \(jsonb, its lake type set anew in the workbook: the folder "
                                                r"holds an older type, the column now lands as string\)"):
        settle(_contract(("qty", pg.INTEGER()), ("doc", pg.JSONB())), None, legacy, False, "job", 2)
    evolved = _contract(("qty", pg.BIGINT()), ("doc", pg.JSONB()))
    changes = settle(evolved, None, legacy, True, "job", 2)
    assert [str(c) for c in changes] == ["retyped qty int32 -> bigint", "retyped doc an older type -> jsonb"]
    assert lake_type_of(pa.large_string()) == STRING


def test_overrides_name_lake_types_and_nothing_else() -> None:
    assert [override_type(t) for t in ("text", "INT64", "decimal(38, 18)", "timestamptz")] == [
        STRING, INT64, decimal_type(38, 18), override_type("timestamptz")]
    assert [override_type(t) for t in ("money", "decimal(39,2)", "decimal(5,6)", "float")] == [None] * 4


def test_the_type_table_in_the_docs_is_generated_from_the_contract() -> None:
    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    committed = BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert committed == render(), "run: python scripts/generate_type_docs.py"
