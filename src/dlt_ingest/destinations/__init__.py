"""Where the data lands: the `Destination` protocol and its filesystem implementation (local folder,
Azure Data Lake Gen2 / Blob Storage, any fsspec bucket)."""

from dlt_ingest.destinations.base import Destination
from dlt_ingest.destinations.filesystem import FilesystemDestination, build_destination

__all__ = ["Destination", "FilesystemDestination", "build_destination"]
