# Databricks notebook source
# MAGIC %md
# MAGIC # dlt-ingest fan-out: plan the workbook
# MAGIC The first task of the bundle's `dlt_ingest_for_each` job. It runs `ingest-job plan`: reads the workbook,
# MAGIC cuts its enabled jobs into slices (one per source; see docs/databricks.md) and publishes them as the task
# MAGIC values `slices` and `planned_at`, which the for_each task iterates over. It is a notebook because
# MAGIC Databricks sets task values only from notebooks. The widgets are set by the job's `base_parameters`.

# COMMAND ----------

import shlex

from dlt_ingest.cli.fanout import run_job_command

for widget in ("config", "project_dir", "plan_options"):
    dbutils.widgets.text(widget, "")  # noqa: F821 - the notebook's dbutils

arguments = ["plan", "--config", dbutils.widgets.get("config")]  # noqa: F821
if dbutils.widgets.get("project_dir"):  # noqa: F821
    arguments += ["--project-dir", dbutils.widgets.get("project_dir")]  # noqa: F821
arguments += shlex.split(dbutils.widgets.get("plan_options"))  # noqa: F821

code = run_job_command(arguments, dbutils.jobs.taskValues.set)  # noqa: F821
if code:
    raise RuntimeError(f"ingest-job plan failed with exit code {code} (2 = configuration error): see the output above")
