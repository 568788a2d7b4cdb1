"""Where the data lands: the `Destination` protocol and its implementations.

`build_destination` chooses the implementation for the run; today every URL (a local folder, Azure Data
Lake Gen2 / Blob Storage, any fsspec bucket) goes to dlt's filesystem destination.
"""

from __future__ import annotations

from pathlib import Path

from dlt_ingest.destinations.base import Destination, TableFiles
from dlt_ingest.destinations.filesystem import FilesystemDestination, lake_target


def build_destination(bucket_url: str | None = None, project: Path | None = None) -> Destination:
    """The run's destination from `[destination.filesystem]` (`<project>/lake` when nothing is configured)."""
    return FilesystemDestination(lake_target(bucket_url, project))


__all__ = ["Destination", "FilesystemDestination", "TableFiles", "build_destination"]
