"""Source modules: `sql/` for databases through dlt's `sql_table`, `api/` for REST APIs through
`rest_api_source`, found by `source_type` in the registry."""

from dlt_ingest.sources.base import LakeColumns, PreparedSource, RowCounter, SourceModule
from dlt_ingest.sources.registry import REGISTRY, SourceRegistry

__all__ = ["REGISTRY", "LakeColumns", "PreparedSource", "RowCounter", "SourceModule", "SourceRegistry"]
