"""Where the catalog's SQL runs: a SQL warehouse through the Databricks SDK, or the cluster's Spark session.

The warehouse path uses the SDK's statement execution API (`statement_execution.execute_statement`,
INLINE JSON results), polling a statement that outlives the call's wait until `timeout_seconds`, then
cancelling it. The Spark path is `spark.sql` on the session of the cluster the run is on.
"""

from __future__ import annotations

import re
import time
from typing import Any

from dlt_ingest.errors import CatalogError, describe
from dlt_ingest.records.catalog import CatalogUnavailable, Row, Statements
from dlt_ingest.secrets.databricks import workspace_client
from dlt_ingest.settings import UnityCatalogSettings, running_on_databricks

_WAIT = "30s"  # how long one call waits for a result (the API allows 5 to 50 seconds)
_ERROR_CLASS = re.compile(r"\[[A-Z][A-Z0-9_.]+\]")


class WarehouseStatements:
    """Statements on a SQL warehouse, through `WorkspaceClient().statement_execution`."""

    def __init__(self, client: Any, warehouse_id: str, timeout_seconds: int) -> None:
        self.client = client
        self.warehouse_id = warehouse_id
        self.timeout_seconds = timeout_seconds

    def run(self, statement: str) -> list[Row]:
        try:
            return self._execute(statement)
        except CatalogError:
            raise
        except Exception as exc:  # the SDK's own errors: unreachable, unauthorised, no such warehouse
            raise CatalogUnavailable(f"warehouse {self.warehouse_id}: {describe(exc)}") from None

    def _execute(self, statement: str) -> list[Row]:
        from databricks.sdk.service.sql import (
            Disposition,
            ExecuteStatementRequestOnWaitTimeout,
            Format,
            StatementState,
        )

        api = self.client.statement_execution
        deadline = time.monotonic() + self.timeout_seconds
        response = api.execute_statement(
            statement=statement, warehouse_id=self.warehouse_id, wait_timeout=_WAIT,
            on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE, disposition=Disposition.INLINE,
            format=Format.JSON_ARRAY)
        pause = 0.2
        while response.status and response.status.state in (StatementState.PENDING, StatementState.RUNNING):
            if time.monotonic() > deadline:
                api.cancel_execution(response.statement_id)
                raise CatalogUnavailable(f"statement still running on warehouse {self.warehouse_id} after "
                                   f"{self.timeout_seconds}s (cancelled); raise [ingest.unity_catalog] "
                                   f"timeout_seconds or start the warehouse")
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
            response = api.get_statement(response.statement_id)
        state = response.status.state if response.status else None
        if state is not StatementState.SUCCEEDED:
            error = response.status.error if response.status else None
            message = (error.message if error else None) or f"statement {state.value if state else 'unknown'}"
            raise CatalogError(f"warehouse {self.warehouse_id}: {message.strip().splitlines()[0]}")
        return self._rows(response)

    def _rows(self, response: Any) -> list[Row]:
        result = response.result
        rows: list[Row] = [tuple(r) for r in (result.data_array or [])] if result else []
        while result is not None and result.next_chunk_index is not None:
            result = self.client.statement_execution.get_statement_result_chunk_n(
                response.statement_id, result.next_chunk_index)
            rows.extend(tuple(r) for r in (result.data_array or []))
        return rows


def _spark_message(exc: Exception) -> str:
    """The line of Spark's error that names the error class (a Java error carries a whole stack trace)."""
    lines = [line.strip(": ").strip() for line in str(exc).splitlines() if line.strip()]
    named = next((line for line in lines if _ERROR_CLASS.search(line)), None)
    return named or (lines[0] if lines else type(exc).__name__)


class SparkStatements:
    """Statements on the cluster's own Spark session (`use_spark = true`)."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def run(self, statement: str) -> list[Row]:
        try:
            collected = self.spark.sql(statement).collect()
        except Exception as exc:  # AnalysisException, ParseException, a Java error through py4j
            raise CatalogError(f"Spark: {_spark_message(exc)}") from None
        return [tuple(None if value is None else str(value) for value in row) for row in collected]


_NO_SESSION = ("[ingest.unity_catalog] use_spark = true needs a Spark session: run on a Databricks cluster, or "
               "set warehouse_id to use a SQL warehouse")


def active_spark_session() -> Any:
    """The session of the cluster the run is on (a Databricks job always has one); off a cluster only one
    that is already active, never a new local Spark."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CatalogUnavailable(_NO_SESSION) from None
    session = SparkSession.getActiveSession()
    if session is None and running_on_databricks():
        session = SparkSession.builder.getOrCreate()
    if session is None:
        raise CatalogUnavailable(_NO_SESSION)
    return session


def open_statements(settings: UnityCatalogSettings) -> Statements:
    """A warehouse when `warehouse_id` is set, else the Spark session."""
    if settings.warehouse_id:
        client = workspace_client(settings.databricks_profile or None, settings.timeout_seconds)
        return WarehouseStatements(client, settings.warehouse_id, settings.timeout_seconds)
    return SparkStatements(active_spark_session())
