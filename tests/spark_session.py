"""Apache Spark in local mode (PyPI's pyspark on a Debian JRE): the engine the catalog's SQL runs on in tests.

Databricks SQL is Spark SQL with extensions; the statements dlt-ingest writes (external Parquet and JSON
tables, `_metadata.file_name`, views, `ALTER TABLE ... ADD COLUMNS`, `SHOW TBLPROPERTIES`) are Spark's, so
a local Spark of the Databricks Runtime's line (3.5 for DBR 15.4) runs them as they are. What it lacks is
Delta Lake (its jars come from Maven, out of reach here): Delta statements are checked as text only.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import service_missing


def start_local_spark(folder: Path) -> Any:
    if shutil.which("java") is None:
        service_missing("a Java runtime for Spark", "apt-get install openjdk-17-jre-headless")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("dlt-ingest-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
               .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={folder}")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def rows(spark: Any, query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in spark.sql(query).collect()]


def spark_engine(spark: Any) -> Any:
    """The fake warehouse's engine: the statement on the local Spark session, its rows as text."""
    from services.databricks_api import SqlFailure

    def run(statement: str) -> tuple[list[str], list[list[str | None]]]:
        try:
            frame = spark.sql(statement)
            collected = frame.collect()
        except Exception as exc:
            raise SqlFailure(str(exc).strip().splitlines()[0]) from None
        return list(frame.columns), [[None if v is None else str(v) for v in row] for row in collected]

    return run
