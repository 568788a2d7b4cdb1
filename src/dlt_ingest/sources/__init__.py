"""Source modules, registered by `source_type`. Importing this package registers every built-in type."""

from dlt_ingest.sources import api as _api  # noqa: F401  (registers)
from dlt_ingest.sources import azure_sql as _azure_sql  # noqa: F401  (registers)
from dlt_ingest.sources import mssql as _mssql  # noqa: F401  (registers)
from dlt_ingest.sources import mysql as _mysql  # noqa: F401  (registers)
from dlt_ingest.sources import oracle as _oracle  # noqa: F401  (registers)
from dlt_ingest.sources import postgresql as _postgresql  # noqa: F401  (registers)
from dlt_ingest.sources import sqlite as _sqlite  # noqa: F401  (registers)
from dlt_ingest.sources.base import REGISTRY, PreparedSource, SourceModule, register

__all__ = ["REGISTRY", "PreparedSource", "SourceModule", "register"]
