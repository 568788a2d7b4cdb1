"""dlt-ingest: config-driven batch ingestion into a date-partitioned Parquet lake, built on dlt.

The public API (what `ingest run` and the Databricks entry call):

    import dlt_ingest
    workbook = dlt_ingest.load_jobs("config/ingestion_config.xlsx")   # validate, list the jobs
    planned = dlt_ingest.plan(dlt_ingest.RunOptions(select=["demo.*"]))  # what a run would do
    report = dlt_ingest.run(dlt_ingest.RunOptions(select=["demo.*"]))   # run it
    report.exit_code, report.results

See docs/python-api.md.
"""

from dlt_ingest.engine.ingestion import plan, run
from dlt_ingest.engine.orchestrator import RunObserver
from dlt_ingest.engine.plan import PlannedJob, RunOptions, load_jobs
from dlt_ingest.errors import ConfigError, IngestError, JobError
from dlt_ingest.results import JobResult, JobStatus, RunReport
from dlt_ingest.workbook import Job, LoadType, WorkbookConfig

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "IngestError", "Job", "JobError", "JobResult", "JobStatus", "LoadType", "PlannedJob",
    "RunObserver", "RunOptions", "RunReport", "WorkbookConfig", "load_jobs", "plan", "run",
]
