"""`ingest-job plan` and `ingest-job report`: the first and the last task of the bundle's for_each fan-out.

`plan` reads the workbook, cuts the selected jobs into slices (engine.slices) and publishes them as the
task values `slices` and `planned_at`; the for_each task runs `ingest-job --slice {{input}}` once per slice.
`report` reads every slice's audit rows since the plan and writes one page; it fails (exit 1) when a
planned job did not succeed, or never ran.

Task values are set through `dbutils.jobs.taskValues.set`, which Databricks provides in notebooks: the
bundle runs the planner from `notebooks/fanout_plan.py`, which hands its `dbutils` in. Elsewhere the
Databricks runtime's `dbutils` is looked up (the SDK's `databricks.sdk.runtime`, then the IPython user
namespace); off Databricks the slices are only printed.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any

import typer

import dlt_ingest
from dlt_ingest.cli.console import Debug, console, guarded
from dlt_ingest.cli.options import (
    AuditDirOption,
    ConfigOption,
    DebugOption,
    ExcludeOption,
    ProjectDirOption,
    SelectOption,
)
from dlt_ingest.engine.plan import select_jobs
from dlt_ingest.engine.slices import Slice, job_name_of, parse_slices, plan_slices, slices_value
from dlt_ingest.errors import ConfigError
from dlt_ingest.records.fanout import NOT_RUN, summarise, write_fanout_report
from dlt_ingest.secrets.chain import open_project
from dlt_ingest.settings import IngestSettings, running_on_databricks

TaskValues = Callable[[str, Any], None]  # dbutils.jobs.taskValues.set(key, value)
JOB_COMMANDS = ("plan", "report")
_handed_in: ContextVar[TaskValues | None] = ContextVar("task_values", default=None)

job_app = typer.Typer(name="ingest-job", add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                      help="The Databricks entry's fan-out commands (without one: the flags of `ingest run`).")


def runtime_task_values() -> TaskValues | None:
    """`dbutils.jobs.taskValues.set` of the Databricks runtime this process runs in, if any."""
    if not running_on_databricks():
        return None
    if importlib.util.find_spec("dbruntime") is not None:  # the runtime's package, as the SDK itself checks
        try:
            from databricks.sdk import runtime

            if not runtime.is_local_implementation:  # the SDK found the runtime's own dbutils
                return runtime.dbutils.jobs.taskValues.set
        except Exception:  # no usable runtime namespace: try the notebook's
            pass
    try:
        import IPython

        shell = IPython.get_ipython()
        dbutils = shell.user_ns.get("dbutils") if shell is not None else None
    except ImportError:
        dbutils = None
    return dbutils.jobs.taskValues.set if dbutils is not None else None


def _publish(values: dict[str, Any]) -> None:
    publisher = _handed_in.get() or runtime_task_values()
    if publisher is None:
        if running_on_databricks():
            raise ConfigError("no dbutils.jobs.taskValues here: Databricks sets task values only from a notebook; "
                              "run the planner as the bundle does, from notebooks/fanout_plan.py")
        console.print("(not on Databricks: the task values are printed, not published)", markup=False)
        return
    for key, value in values.items():
        publisher(key, value)
    console.print(f"Published task values: {', '.join(values)}", markup=False)


@job_app.command("plan")
def plan(
    config: ConfigOption = None,
    project_dir: ProjectDirOption = None,
    select: SelectOption = None,
    exclude: ExcludeOption = None,
    max_jobs_per_slice: Annotated[int, typer.Option(help="Cut a source with more jobs into parts (0: never).")] = 0,
    max_slices: Annotated[int, typer.Option(help="Pack the parts onto this many slices by job count (0: no limit).")]
    = 0,
    debug: DebugOption = False,
) -> None:
    """Cut the selected jobs into slices (one per source by default) and publish them as task values."""
    if debug:
        Debug.enable()
    workbook = guarded(lambda: dlt_ingest.load_jobs(config, project_dir))
    jobs = guarded(lambda: select_jobs(workbook.jobs, select or (), exclude or ()))
    slices = guarded(lambda: plan_slices(jobs, max_jobs_per_slice, max_slices))
    value = guarded(lambda: slices_value(slices))
    planned_at = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    for item in slices:
        console.print(f"slice {item.name}: {len(item.select)} job(s): {', '.join(item.select)}", markup=False)
    console.print(f"{len(jobs)} job(s) in {len(slices)} slice(s), planned at {planned_at}", markup=False)
    console.print(json.dumps({"slices": value, "planned_at": planned_at}, ensure_ascii=False), markup=False)
    guarded(lambda: _publish({"slices": value, "planned_at": planned_at}))


@job_app.command("report")
def report(
    slices: Annotated[str, typer.Option(help="The plan's slices ({{tasks.plan.values.slices}}).")],
    since: Annotated[str, typer.Option(help="When the plan ran ({{tasks.plan.values.planned_at}}).")],
    audit_dir: AuditDirOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Every planned job's outcome across the slices, from the audit; exit 1 unless all succeeded."""
    planned: list[Slice] = guarded(lambda: parse_slices(slices))
    project = open_project(project_dir)  # the secret providers, for an audit folder in a bucket
    folder = audit_dir or IngestSettings.load(project).audit_dir
    by_slice = {item.name: [job_name_of(p) for p in item.select] for item in planned}
    summary = guarded(lambda: summarise(folder, by_slice, since))
    for outcome in summary.outcomes:
        detail = f" - {outcome.row.get('error_message')}" if outcome.row and outcome.row.get("error_message") else ""
        console.print(f"[{outcome.status}] {outcome.slice}: {outcome.job}{detail}", markup=False)
    path = guarded(lambda: write_fanout_report(folder, summary))
    console.print(f"Fan-out: {len(planned)} slice(s), {len(summary.outcomes)} job(s): "
                  f"{summary.count('SUCCESS')} succeeded, {summary.failed} failed, {summary.count(NOT_RUN)} not run",
                  markup=False)
    console.print(f"Report: {path}", markup=False)
    if not summary.ok:
        raise typer.Exit(1)


def run_job_command(args: Sequence[str], task_values: TaskValues | None = None) -> int:
    """`ingest-job plan|report ...` in this process; returns the exit code. A notebook hands in
    `dbutils.jobs.taskValues.set` as `task_values`."""
    token = _handed_in.set(task_values)
    try:
        result = job_app(args=list(args), prog_name="ingest-job", standalone_mode=False)
    except Exception as exc:  # typer may bring its own click: its errors are recognised by what they offer
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):  # a usage error
            exc.show()
            return int(exc.exit_code)  # type: ignore[attr-defined]
        raise
    finally:
        _handed_in.reset(token)
    return result if isinstance(result, int) else 0  # click returns an Exit's code when not standalone
