"""The entry point a Databricks job runs: `ingest run` with the same flags, no terminal, a failing exit.

    python_wheel_task:  package_name dlt_ingest, entry_point ingest-job, parameters ["--config", ...]
    spark_python_task:  scripts/databricks_job.py with the same parameters

The arguments are exactly those of `ingest run` (parsed by the same Typer command, so the two never
drift apart), plus `--project-dir DIR`: a folder holding `.dlt/config.toml` (e.g. the bundle's synced
files under /Workspace), since a job starts in the driver's own folder. Output is plain timestamped log
lines on stdout. A run with a failed job (exit 1) or bad configuration (exit 2) ends by raising
`JobRunFailed`, a `SystemExit` with that code, which Databricks marks as a failed task.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


PROG = "ingest-job"


class JobRunFailed(SystemExit):
    """Raised when the run did not succeed; its `code` is the `ingest run` exit code (1 job failed, 2 config)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _split_project_dir(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """Take `--project-dir DIR` / `--project-dir=DIR` out of the arguments; the rest go to `ingest run`."""
    rest: list[str] = []
    project_dir = None
    items = iter(args)
    for arg in items:
        if arg == "--project-dir":
            project_dir = next(items, None)
        elif arg.startswith("--project-dir="):
            project_dir = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return project_dir, rest


def _use_project(project_dir: str) -> None:
    from dlt_ingest.secrets.chain import use_project_dir

    os.chdir(project_dir)
    use_project_dir(os.getcwd())


def run_job(args: Sequence[str]) -> int:
    """Run `ingest run <args>` in this process and return its exit code (never raises for a failed run)."""
    import click

    from dlt_ingest.cli import app
    from dlt_ingest.secrets.redaction import redact
    from dlt_ingest.settings import ON_DATABRICKS

    project_dir, run_args = _split_project_dir(args)
    if project_dir is not None:
        if not os.path.isdir(project_dir):
            print(f"Error: --project-dir {project_dir} is not a folder", file=sys.stderr, flush=True)
            return 2
        _use_project(project_dir)
    leading = [a for a in run_args if a == "--debug"]  # an option of the app, not of `run`
    run_args = [a for a in run_args if a != "--debug"]
    runtime = os.environ.get(ON_DATABRICKS) or "none (not on a Databricks cluster)"
    print(redact(f"{PROG}: Databricks runtime {runtime}; ingest run {' '.join(run_args)}"), flush=True)
    try:
        code = app(args=[*leading, "run", *run_args], prog_name=PROG, standalone_mode=False)
    except click.UsageError as exc:  # a bad flag: the same message and exit code as `ingest run`
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    sys.stdout.flush()
    return int(code or 0)


def main(argv: Sequence[str] | None = None) -> None:
    """Console script `ingest-job`: returns on success, raises `JobRunFailed` otherwise."""
    code = run_job(sys.argv[1:] if argv is None else argv)
    if code:
        print(f"{PROG}: run failed with exit code {code} (1 = a job failed, 2 = configuration error)", flush=True)
        raise JobRunFailed(code)


if __name__ == "__main__":
    main()
