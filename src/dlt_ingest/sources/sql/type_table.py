"""The type contract as the table of docs/sources.md: one row per catalog type of each dialect, rendered
from `types.contract_for` itself (`python scripts/generate_type_docs.py`; a test fails when it is stale)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, oracle, sqlite
from sqlalchemy.dialects import postgresql as pg

from dlt_ingest.sources.registry import REGISTRY
from dlt_ingest.sources.sql.types import BACKENDS, MYSQL_SPATIAL_TYPES, Read, contract_for

BEGIN, END = "<!-- type-contract:begin -->", "<!-- type-contract:end -->"

SAMPLES: dict[str, list[Any]] = {
    "postgresql": [
        pg.SMALLINT(), pg.INTEGER(), pg.BIGINT(), pg.OID(), pg.NUMERIC(10, 2), pg.NUMERIC(), pg.NUMERIC(5, -2),
        pg.NUMERIC(50, 10), pg.REAL(), pg.DOUBLE_PRECISION(), pg.MONEY(), pg.BOOLEAN(), pg.CHAR(20),
        pg.VARCHAR(10), pg.TEXT(), pg.BYTEA(), pg.DATE(), pg.TIME(), pg.TIME(timezone=True), pg.TIMESTAMP(),
        pg.TIMESTAMP(timezone=True), pg.INTERVAL(), pg.UUID(), pg.JSON(), pg.JSONB(), pg.ENUM("a", "b", name="mood"),
        pg.ARRAY(pg.INTEGER()), pg.INET(), pg.CIDR(), pg.MACADDR(), pg.BIT(3), pg.TSVECTOR(), pg.INT4RANGE(),
        pg.DOMAIN("money_amount", pg.NUMERIC(10, 2)), sa.types.NullType(),
    ],
    "mysql": [
        mysql.TINYINT(), mysql.SMALLINT(), mysql.MEDIUMINT(), mysql.INTEGER(), mysql.BIGINT(),
        mysql.INTEGER(unsigned=True), mysql.BIGINT(unsigned=True), mysql.DECIMAL(10, 2), mysql.DECIMAL(65, 30),
        mysql.FLOAT(), mysql.DOUBLE(), mysql.BIT(1), mysql.BIT(64), mysql.YEAR(), mysql.DATE(), mysql.DATETIME(fsp=6),
        mysql.TIMESTAMP(fsp=6), mysql.TIME(fsp=6), mysql.CHAR(10), mysql.VARCHAR(20), mysql.LONGTEXT(),
        mysql.BINARY(4), mysql.BLOB(), mysql.ENUM("a", "b"), mysql.SET("a", "b"), mysql.JSON(),
        MYSQL_SPATIAL_TYPES["geometry"](),
    ],
    "sqlite": [sqlite.INTEGER(), sqlite.REAL(), sqlite.NUMERIC(12, 2), sqlite.TEXT(), sqlite.BLOB(), sqlite.DATE(),
               sqlite.TIMESTAMP()],
    "mssql": [mssql.TINYINT(), mssql.INTEGER(), mssql.BIGINT(), mssql.DECIMAL(19, 4), mssql.MONEY(),
              mssql.SMALLMONEY(), mssql.REAL(), mssql.FLOAT(), mssql.BIT(), mssql.DATE(), mssql.DATETIME2(),
              mssql.DATETIMEOFFSET(), mssql.TIME(), mssql.NVARCHAR(50), mssql.VARBINARY(16),
              mssql.UNIQUEIDENTIFIER(), mssql.XML()],
    "oracle": [oracle.NUMBER(), oracle.NUMBER(10, 0), oracle.NUMBER(30, 0), oracle.NUMBER(12, 2),
               oracle.BINARY_FLOAT(), oracle.BINARY_DOUBLE(), oracle.DATE(), oracle.TIMESTAMP(),
               oracle.TIMESTAMP(timezone=True), oracle.VARCHAR2(20), oracle.NCLOB(), oracle.RAW(16),
               oracle.INTERVAL()],
}
_READ = {Read.NATIVE: "as is", Read.SERVER_TEXT: "server's text", Read.NUMERIC: "as numeric",
         Read.BIGINT: "as bigint", Read.DOUBLE: "as double", Read.UNSIGNED: "as unsigned",
         Read.ISO_TEXT: "as ISO 8601 text"}


def contract_rows() -> list[list[str]]:
    """(dialect, source type, lake type, how it is read, backends, note) for every sample type."""
    rows = []
    for name, samples in SAMPLES.items():
        dialect = sa.dialects.registry.load(name)()
        offered = getattr(REGISTRY.get(name), "backends", ())
        for sample in samples:
            contract = contract_for("c", sample, dialect)
            readers = ", ".join(b for b in BACKENDS if contract.readable_by(b) and b in offered)
            spelled = "any other type" if isinstance(sample, sa.types.NullType) else contract.source_type
            rows.append([name, f"`{spelled}`", f"`{contract.lake.name}`", _READ[contract.read], readers,
                         contract.note])
    return rows


def render() -> str:
    lines = ["| source | type | lake (Arrow) type | read | backends that read it exactly | note |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in contract_rows()]
    return "\n".join([BEGIN, *lines, END])


def replace_in(document: str) -> str:
    """`document` with the table between its markers rendered anew."""
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + render() + tail
