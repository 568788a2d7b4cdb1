"""The command line: `ingest` (app) and the Databricks entry `ingest-job`."""
