"""Source modules, registered by `source_type`. Importing this package registers every built-in type."""

from dlt_ingest.sources import sqlite as _sqlite  # noqa: F401  (registers)
from dlt_ingest.sources.base import REGISTRY, PreparedSource, SourceModule, register

__all__ = ["REGISTRY", "PreparedSource", "SourceModule", "register"]
