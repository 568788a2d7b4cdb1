"""A Databricks `spark_python_task` file: the same run as the wheel's `ingest-job` entry point.

The cluster needs the dlt-ingest wheel installed as a library; the task's `parameters` are the flags of
`ingest run` (plus `--project-dir`). See docs/databricks.md.
"""

from dlt_ingest.cli.databricks_job import main

if __name__ == "__main__":
    main()
