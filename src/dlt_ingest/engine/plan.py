"""Everything a run decides before it touches a source or the lake: the project, the jobs, the settings.

Bad input raises `ConfigError` here (exit 2, nothing ran); `plan_run` is shared by `ingest run`,
`--dry-run`, `test-connections` and the Databricks entry.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dlt
from dlt.pipeline.exceptions import CannotRestorePipelineException

from dlt_ingest.destinations import Destination, build_destination
from dlt_ingest.engine.deletes import with_deletes_default
from dlt_ingest.engine.reconcile import ReconcilePolicy
from dlt_ingest.engine.state import incremental_state
from dlt_ingest.errors import ConfigError
from dlt_ingest.secrets.chain import open_project, use_project
from dlt_ingest.settings import IngestSettings, UnityCatalogSettings
from dlt_ingest.sources import REGISTRY
from dlt_ingest.storage import shown_path
from dlt_ingest.workbook import DEFAULT_WORKBOOK, Job, WorkbookConfig, load_workbook


@dataclass
class RunOptions:
    """What a run is asked to do; `None` means: the `[ingest]` setting, else the default."""

    config_path: str | Path | None = None  # the workbook; default <project>/config/ingestion_config.xlsx
    project_dir: str | Path | None = None  # the folder holding .dlt/ (and, by default, the workbook, logs, lake)
    select: Sequence[str] = ()
    exclude: Sequence[str] = ()
    workers: int | None = None
    reset_state: bool = False
    log_dir: str | None = None
    audit_dir: str | None = None
    bucket_url: str | None = None
    create_container: bool = False
    write_back: bool = False  # update last_run_* and last_watermark in the workbook
    slice_name: str | None = None  # one slice of a fan-out: its audit and logs go to files of their own


@dataclass(frozen=True)
class RunPlan:
    """The validated workbook, the selected jobs, the settings and the destination of one run."""

    project: Path
    workbook: WorkbookConfig
    jobs: list[Job]
    settings: IngestSettings
    destination: Destination
    options: RunOptions = field(default_factory=RunOptions)
    catalog: UnityCatalogSettings | None = None  # [ingest.unity_catalog], when configured

    @property
    def workbook_path(self) -> str:
        return self.workbook.path


def workbook_path(options: RunOptions, project: Path) -> Path:
    """The workbook: as given (relative to the current folder, like any path typed on a command line),
    else the project's default one."""
    if options.config_path:
        return Path(options.config_path).expanduser()
    return shown_path(project / DEFAULT_WORKBOOK)


def load_jobs(config_path: str | Path | None = None, project_dir: str | Path | None = None) -> WorkbookConfig:
    """Read and validate the workbook (the enabled jobs, the disabled ones, warnings); raises `ConfigError`."""
    project = open_project(project_dir, config_path)
    workbook = load_workbook(workbook_path(RunOptions(config_path=config_path), project), REGISTRY)
    use_project(None, (job.source_name for job in workbook.jobs))  # who owns an ambiguous DLT_<NAME>_<KEY>
    return workbook


def _matches(job: Job, pattern: str) -> bool:
    if pattern.startswith("source:"):
        return fnmatch.fnmatchcase(job.source_name.lower(), pattern[7:].lower())
    if pattern.startswith("type:"):
        return fnmatch.fnmatchcase(job.source_type, pattern[5:].lower())
    return fnmatch.fnmatchcase(job.name.lower(), pattern.lower())


def select_jobs(jobs: Sequence[Job], select: Sequence[str], exclude: Sequence[str]) -> list[Job]:
    """Filter jobs by globs on job names, `source:NAME` and `type:TYPE`."""
    chosen = [j for j in jobs if not select or any(_matches(j, p) for p in select)]
    chosen = [j for j in chosen if not any(_matches(j, p) for p in exclude)]
    if select and not chosen:
        names = ", ".join(j.name for j in jobs) or "none"
        raise ConfigError(f"--select {' '.join(select)} matches no enabled job (enabled jobs: {names})")
    return chosen


def plan_run(options: RunOptions) -> RunPlan:
    """Everything a run needs before it touches anything: raises `ConfigError` on bad input."""
    project = open_project(options.project_dir, options.config_path)
    workbook = load_workbook(workbook_path(options, project), REGISTRY)
    use_project(None, (job.source_name for job in workbook.jobs))  # who owns an ambiguous DLT_<NAME>_<KEY>
    jobs = select_jobs(workbook.jobs, options.select, options.exclude)
    settings = IngestSettings.load(project, workers=options.workers, log_dir=options.log_dir,
                                   audit_dir=options.audit_dir)
    if settings.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {settings.workers}")
    if options.reset_state and not options.select:
        raise ConfigError("--reset-state needs --select naming the job(s) whose stored cursor to forget")
    ReconcilePolicy.from_settings(settings)  # a bad [ingest] reconcile_action stops here, before any job
    catalog = UnityCatalogSettings.load()  # a bad [ingest.unity_catalog] stops here, before any job
    jobs = decided_jobs(jobs, settings)
    destination = build_destination(options.bucket_url, project)
    return RunPlan(project, workbook, jobs, settings, destination, options, catalog)


def decided_jobs(jobs: Sequence[Job], settings: IngestSettings) -> list[Job]:
    """The jobs with the run-level defaults the workbook leaves to `[ingest]` decided (detect_deletes)."""
    return [with_deletes_default(job, settings.detect_deletes, REGISTRY.get(job.source_type).detects_deletes)
            for job in jobs]


def require_jobs(plan: RunPlan) -> None:
    """A run with nothing to run is a usage error (exit 2), like a `--select` that matches nothing."""
    if plan.jobs:
        return
    workbook = plan.workbook
    if plan.workbook.jobs:  # every enabled job was excluded
        raise ConfigError(f"--exclude {' '.join(plan.options.exclude)} leaves no job to run (enabled jobs: "
                          f"{', '.join(j.name for j in workbook.jobs)})")
    if workbook.disabled:
        raise ConfigError(f"nothing to run: none of the {len(workbook.disabled)} row(s) of {workbook.path} is "
                          f"enabled; set enabled to Y on the rows to run")
    raise ConfigError(f"nothing to run: {workbook.path} has no job rows below its header; add one row per table or "
                      f"endpoint (docs/configuration.md)")


@dataclass(frozen=True)
class PlannedJob:
    job: Job
    watermark_start: str
    target_folder: str


def _local_watermark(job: Job, working_dir: str) -> str:
    """The cursor in dlt's local state, without contacting the lake (for --dry-run)."""
    if not job.is_incremental:
        return "(all rows)"
    pipeline = None
    if (Path(working_dir) / job.pipeline_name).is_dir():  # attach would create the folder otherwise
        try:
            pipeline = dlt.attach(pipeline_name=job.pipeline_name, pipelines_dir=working_dir)
        except CannotRestorePipelineException:
            pipeline = None
    state = incremental_state(pipeline) if pipeline is not None else None
    if state and state.get("last_value") is not None:
        return f"{job.watermark_column} >= {state['last_value']} (local state)"
    start = job.last_watermark if job.last_watermark is not None else "(beginning)"
    return f"{job.watermark_column} >= {start} (workbook; the lake's state wins if present)"


def plan_jobs(options: RunOptions) -> list[PlannedJob]:
    """What `ingest run` would do: validates everything, connects to nothing, writes nothing."""
    plan = plan_run(options)
    require_jobs(plan)
    today = date.today()
    return [PlannedJob(job, _local_watermark(job, plan.settings.working_dir),
                       plan.destination.table_location(job, today)) for job in plan.jobs]
