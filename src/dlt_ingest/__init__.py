"""dlt-ingest: config-driven batch ingestion into a date-partitioned Parquet lake, built on dlt."""

__version__ = "0.1.0"
