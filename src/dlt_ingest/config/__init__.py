"""Workbook reading and validation."""

from dlt_ingest.config.columns import COLUMNS, SHEET_NAME
from dlt_ingest.config.model import Job, LoadType
from dlt_ingest.config.validation import WorkbookConfig, load_workbook

DEFAULT_WORKBOOK = "config/ingestion_config.xlsx"

__all__ = ["COLUMNS", "DEFAULT_WORKBOOK", "SHEET_NAME", "Job", "LoadType", "WorkbookConfig", "load_workbook"]
