"""The entry point a Databricks job runs: the flags of `ingest run`, the public API, a failing exit.

    python_wheel_task:  package_name dlt_ingest, entry_point ingest-job, parameters ["--config", ...]
    spark_python_task:  scripts/databricks_job.py with the same parameters
    for_each fan-out:   ingest-job plan ..., then ingest-job --slice {{input}} ..., then ingest-job report ...

The arguments are exactly those of `ingest run`: they are parsed by that command's own parser (so the two
never drift apart) and the run goes through `dlt_ingest.run`, as any other caller of the library would.
`--project-dir DIR` names the folder holding `.dlt/config.toml` (e.g. the bundle's synced files under
/Workspace), since a job starts in the driver's own folder; a relative `--config` is taken from it.
`--slice JSON` (one element of `ingest-job plan`'s slices) selects that slice's jobs and gives the run's
audit and log files the slice's name. Output is plain timestamped log lines on stdout. A run with a failed
job (exit 1) or bad configuration (exit 2) ends by raising `JobRunFailed`, a `SystemExit` with that code,
which Databricks marks as a failed task.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from dlt_ingest.cli.app import app
from dlt_ingest.cli.console import Debug
from dlt_ingest.cli.fanout import JOB_COMMANDS, run_job_command
from dlt_ingest.cli.options import run_options
from dlt_ingest.cli.render import run_with_output
from dlt_ingest.engine.slices import Slice, parse_slice
from dlt_ingest.errors import ConfigError
from dlt_ingest.redaction import redact
from dlt_ingest.settings import ON_DATABRICKS

PROG = "ingest-job"


class JobRunFailed(SystemExit):
    """Raised when the run did not succeed; its `code` is the `ingest run` exit code (1 job failed, 2 config)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def parse_run_arguments(args: Sequence[str]) -> dict[str, Any] | int:
    """The parameters of `ingest run <args>`, parsed by that command itself; an exit code for --help or a
    usage error (printed as `ingest run` prints it). Typer may bring its own click: its exceptions are
    recognised by what they offer, not by their class."""
    command: Any = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    try:
        with command.make_context(PROG, list(args)) as context:
            return dict(context.params)
    except Exception as exc:
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):  # a usage error
            exc.show()
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if type(exc).__name__ == "Exit":  # --help
            return int(getattr(exc, "exit_code", 0) or 0)
        raise


def split_slice(args: Sequence[str]) -> tuple[list[str], str | None]:
    """`--slice VALUE` (or `--slice=VALUE`) taken out of the arguments; the rest are `ingest run`'s."""
    rest: list[str] = []
    value: str | None = None
    items = iter(args)
    for arg in items:
        if arg == "--slice":
            value = next(items, "")
        elif arg.startswith("--slice="):
            value = arg[len("--slice="):]
        else:
            rest.append(arg)
    return rest, value


def parse_job_arguments(args: Sequence[str]) -> tuple[dict[str, Any], Slice | None] | int:
    """The run's parameters and its slice; an exit code after --help or a usage error (printed)."""
    rest, slice_text = split_slice(args)
    params = parse_run_arguments(rest)
    if params == 0 and "--help" in rest:
        print(f"\n{PROG} also takes --slice JSON (one slice of `{PROG} plan`, instead of --select), and the "
              f"fan-out's commands `{PROG} plan --help` and `{PROG} report --help`.", flush=True)
    if isinstance(params, int) or slice_text is None:
        return params if isinstance(params, int) else (params, None)
    try:
        if params.get("select"):
            raise ConfigError("--slice is a selection of its own: drop --select (use --exclude to narrow it)")
        chosen = parse_slice(slice_text)
    except ConfigError as exc:
        print(f"Error: {redact(exc.message)}", file=sys.stderr, flush=True)
        return 2
    params["select"] = list(chosen.select)
    return params, chosen


def run_job(args: Sequence[str]) -> int:
    """Run `ingest run <args>` through the public API in this process; returns its exit code."""
    parsed = parse_job_arguments(args)
    if isinstance(parsed, int):
        return parsed
    params, chosen = parsed
    project_dir = params.get("project_dir")
    if project_dir is not None and not os.path.isdir(project_dir):
        print(f"Error: --project-dir {project_dir} is not a folder", file=sys.stderr, flush=True)
        return 2
    config = params.get("config")
    if project_dir and config and not Path(config).is_absolute():
        params["config"] = str(Path(project_dir) / config)
    if params.get("debug"):
        Debug.enable()
    runtime = os.environ.get(ON_DATABRICKS) or "none (not on a Databricks cluster)"
    print(redact(f"{PROG}: Databricks runtime {runtime}; ingest run {' '.join(args)}"), flush=True)
    if params.get("dry_run"):
        print(f"{PROG}: --dry-run is not supported here; use `ingest run --dry-run`", file=sys.stderr, flush=True)
        return 2
    options = replace(run_options(params), slice_name=chosen.name if chosen else None)
    try:
        code = run_with_output(options)
    except typer.Exit as exc:  # the error boundary's exit code
        code = int(exc.exit_code)
    sys.stdout.flush()
    return code


def main(argv: Sequence[str] | None = None) -> None:
    """Console script `ingest-job`: returns on success, raises `JobRunFailed` otherwise."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    args = list(sys.argv[1:] if argv is None else argv)
    code = run_job_command(args) if args and args[0] in JOB_COMMANDS else run_job(args)
    if code:
        print(f"{PROG}: run failed with exit code {code} (1 = a job failed, 2 = configuration error)", flush=True)
        raise JobRunFailed(code)


if __name__ == "__main__":
    main()
