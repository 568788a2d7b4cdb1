"""The records of a run: audit CSV, logs, HTML reports, notifications, write-back to the workbook."""
