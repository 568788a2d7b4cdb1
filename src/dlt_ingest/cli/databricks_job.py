"""The entry point a Databricks job runs: the flags of `ingest run`, the public API, a failing exit.

    python_wheel_task:  package_name dlt_ingest, entry_point ingest-job, parameters ["--config", ...]
    spark_python_task:  scripts/databricks_job.py with the same parameters

The arguments are exactly those of `ingest run`: they are parsed by that command's own parser (so the two
never drift apart) and the run goes through `dlt_ingest.run`, as any other caller of the library would.
`--project-dir DIR` names the folder holding `.dlt/config.toml` (e.g. the bundle's synced files under
/Workspace), since a job starts in the driver's own folder; a relative `--config` is taken from it.
Output is plain timestamped log lines on stdout. A run with a failed job (exit 1) or bad configuration
(exit 2) ends by raising `JobRunFailed`, a `SystemExit` with that code, which Databricks marks as a
failed task.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from dlt_ingest.cli.app import app
from dlt_ingest.cli.console import Debug
from dlt_ingest.cli.options import run_options
from dlt_ingest.cli.render import run_with_output
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


def run_job(args: Sequence[str]) -> int:
    """Run `ingest run <args>` through the public API in this process; returns its exit code."""
    params = parse_run_arguments(args)
    if isinstance(params, int):
        return params
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
    try:
        code = run_with_output(run_options(params))
    except typer.Exit as exc:  # the error boundary's exit code
        code = int(exc.exit_code)
    sys.stdout.flush()
    return code


def main(argv: Sequence[str] | None = None) -> None:
    """Console script `ingest-job`: returns on success, raises `JobRunFailed` otherwise."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    code = run_job(sys.argv[1:] if argv is None else argv)
    if code:
        print(f"{PROG}: run failed with exit code {code} (1 = a job failed, 2 = configuration error)", flush=True)
        raise JobRunFailed(code)


if __name__ == "__main__":
    main()
