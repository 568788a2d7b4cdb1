"""Source modules, registered by `source_type`. Importing this package declares every built-in type; its
module is imported on first use (`REGISTRY.get`), so a run does not import drivers it does not need."""

from dlt_ingest.sources.base import REGISTRY, PreparedSource, SourceModule, register

for _type_name in ("api", "azure_sql", "mssql", "mysql", "oracle", "postgresql", "sqlite"):
    REGISTRY.declare(_type_name, f"dlt_ingest.sources.{_type_name}")

__all__ = ["REGISTRY", "PreparedSource", "SourceModule", "register"]
