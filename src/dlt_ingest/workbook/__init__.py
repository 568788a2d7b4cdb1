"""The workbook: its columns, the typed `Job` a row becomes, reading, validation and the template."""

from dlt_ingest.workbook.columns import COLUMNS, SHEET_NAME
from dlt_ingest.workbook.model import Job, LoadType
from dlt_ingest.workbook.rules import SourceRules, WorkbookConfig, load_workbook

DEFAULT_WORKBOOK = "config/ingestion_config.xlsx"

__all__ = ["COLUMNS", "DEFAULT_WORKBOOK", "SHEET_NAME", "Job", "LoadType", "SourceRules", "WorkbookConfig",
           "load_workbook"]
