"""The filesystem destination: dlt's filesystem destination with the date-partitioned Parquet layout."""

from dlt_ingest.destinations.filesystem.destination import FilesystemDestination
from dlt_ingest.destinations.filesystem.lake import DEFAULT_LAYOUT, LakeTarget, lake_target

__all__ = ["DEFAULT_LAYOUT", "FilesystemDestination", "LakeTarget", "lake_target"]
