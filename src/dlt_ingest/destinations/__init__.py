"""Where the data lands."""

from dlt_ingest.destinations.filesystem import DEFAULT_LAYOUT, LakeTarget, lake_target
from dlt_ingest.destinations.preflight import check_lake

__all__ = ["DEFAULT_LAYOUT", "LakeTarget", "check_lake", "lake_target"]
