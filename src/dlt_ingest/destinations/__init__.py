"""Where the data lands."""

from dlt_ingest.destinations.filesystem import DEFAULT_LAYOUT, LakeTarget, lake_target

__all__ = ["DEFAULT_LAYOUT", "LakeTarget", "lake_target"]
