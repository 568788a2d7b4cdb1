"""dlt's table loaders wrapped for the type contract: every batch cast to the lake schema, the lake types
recorded in the resource state (so they travel with the load), a failure while reading turned into one line
naming the job and the host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
import sqlalchemy as sa
from dlt.common.libs.pyarrow import PyToArrowConversionException
from dlt.sources.sql_database.helpers import BaseTableLoader

from dlt_ingest.errors import IngestError, SourceError, first_line
from dlt_ingest.redaction import redact
from dlt_ingest.sources.base import LAKE_COLUMNS_KEY
from dlt_ingest.sources.sql.contract import BatchCaster, DriverRefusal


def _arrow_reason(exc: PyToArrowConversionException) -> str:
    """Arrow's own words, without dlt's advice to set precision hints (the type contract already did)."""
    reason = first_line(str(exc._details or exc)).split(". Consider setting", 1)[0]
    return reason.removeprefix("Insufficient decimal precision ")


# server messages whose fix is known, whatever driver or backend relays them: (words in the message, the fix)
KNOWN_FIXES = (
    ("has not been populated", "it is a materialized view created WITH NO DATA: run REFRESH MATERIALIZED VIEW "
                               "on the server (or disable the row)"),
)


def connection_failure(job_name: str, target: str, exc: BaseException) -> SourceError:
    """One line naming the job and the host, with the driver's first line, the fix where it is known, and no
    secret."""
    text = str(getattr(exc, "orig", None) or exc)
    reason = redact(first_line(text) or type(exc).__name__)
    fixes = [fix for words, fix in KNOWN_FIXES if words in text]
    return SourceError(f"{job_name}: cannot read from {target}: {reason}" + "".join(f"; {fix}" for fix in fixes))


def is_read_failure(exc: BaseException) -> bool:
    """Driver, connectorx, ADBC and DuckDB errors; connectorx reports some as a Rust panic (not an `Exception`)."""
    return isinstance(exc, sa.exc.SQLAlchemyError | OSError | RuntimeError) or type(exc).__name__ in (
        "PanicException", "OperationalError", "ProgrammingError", "InternalError", "DatabaseError") or (
        type(exc).__module__.lstrip("_").startswith("duckdb"))


def _imported_rows(item: Any) -> int:
    """The rows of a file handed to dlt as an import (`dlt.mark.with_file_import` carries its count)."""
    metrics = getattr(getattr(item, "meta", None), "metrics", None)
    return int(getattr(metrics, "items_count", 0) or 0)


class ReadCounter:
    """Rows a job's read took from the source, before dlt's incremental filter drops the ones it already
    loaded at the boundary: what the reconciliation compares the source's count with."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self) -> int:
        return self.rows


def contract_loader(base: type[BaseTableLoader], job_name: str, target: str, caster: BatchCaster,
                    columns_state: dict[str, Any], counter: ReadCounter,
                    settings: dict[str, Any] | None = None, snapshot: bool = False) -> type[BaseTableLoader]:
    """`base` (dlt's table loader of a backend) whose batches are cast to the lake schema by `caster`.

    A `snapshot` (a FULL read) of an empty table yields one empty table of the lake schema: dlt writes it as
    a file of no rows, so the load is the table's newest snapshot and a reader sees the table empty, not the
    previous snapshot's rows."""

    class ContractLoader(base):  # type: ignore[valid-type,misc]
        def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
            dlt.current.resource_state()[LAKE_COLUMNS_KEY] = columns_state  # committed with this load only
            rows_before = counter.rows
            try:
                for item in super().load_rows(backend_kwargs):
                    if isinstance(item, pa.Table | pa.RecordBatch):
                        item = caster.cast(item)
                        counter.rows += item.num_rows
                    else:
                        counter.rows += _imported_rows(item)
                    yield item
                if snapshot and counter.rows == rows_before:
                    yield caster.contract.schema().empty_table()
            except DriverRefusal as exc:
                raise caster.refused_driver_value(exc) from None
            except IngestError:
                raise
            except PyToArrowConversionException as exc:  # the pyarrow backend could not build the lake's type
                raise caster.refused_conversion(exc._field_name, _arrow_reason(exc)) from None
            except BaseException as exc:
                if not is_read_failure(exc):
                    raise
                raise connection_failure(job_name, target, exc) from None

    ContractLoader.job_name = job_name  # for the loader's own log lines
    ContractLoader.contract = caster.contract
    for name, value in (settings or {}).items():
        setattr(ContractLoader, name, value)
    return ContractLoader
