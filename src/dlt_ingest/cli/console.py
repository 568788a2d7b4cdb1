"""The consoles every command prints to, and the one error boundary of the CLI.

Expected errors (`IngestError`) become red lines and their exit code; anything else is an internal error
in one line. A traceback needs `--debug`, and even then passes through the redaction filter.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import click
import typer
from rich.console import Console

from dlt_ingest.errors import IngestError, WorkbookValidationError, describe
from dlt_ingest.records.run_logs import CurrentStreamHandler
from dlt_ingest.redaction import RedactingFilter, install_log_redaction, redact

T = TypeVar("T")
PIPE_WIDTH = 1000  # a pipe or a job log has no width: never wrap log lines there
STATUS_WIDTH = 80  # tables meant to be read in a pipe or a job log (`ingest status`) fit this

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class Debug:
    """Whether `--debug` was given: tracebacks of expected errors, and every library's debug log on stderr."""

    enabled = False
    _handler: logging.Handler | None = None

    @classmethod
    def enable(cls) -> None:
        cls.enabled = True
        install_log_redaction()  # every record of every library, whichever handler prints it
        if cls._handler is None:
            handler = CurrentStreamHandler(stderr=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            handler.addFilter(RedactingFilter())  # before anything reaches the terminal
            logging.getLogger().addHandler(handler)
            logging.getLogger().setLevel(logging.DEBUG)
            cls._handler = handler


def quiet_library_logs() -> None:
    """Libraries' own warnings (a secret store's SDK, dlt) never print raw to the console: without any
    handler Python would print them on stderr. Ours say what failed in one line; `--debug` shows theirs."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())


def fail(exc: IngestError) -> NoReturn:
    """Show an expected error the way every command does and exit with its code."""
    if isinstance(exc, WorkbookValidationError):
        for problem in exc.problems:
            err_console.print(redact(problem), style="red", markup=False)
        count = len(exc.problems)
        err_console.print(f"{redact(exc.path)}: {count} problem{'s' if count != 1 else ''}; nothing was run.",
                          style="red", markup=False)
    else:
        err_console.print(f"Error: {redact(exc.message)}", style="red", markup=False)  # messages name [sections]
    raise typer.Exit(exc.exit_code)


def guarded(call: Callable[[], T]) -> T:
    """The one error boundary: expected errors become red lines and exit codes, tracebacks need --debug."""
    try:
        return call()
    except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise  # typer's own exits and usage errors pass through untouched
    except IngestError as exc:
        if Debug.enabled:
            logging.getLogger("dlt_ingest").exception("debug traceback")
        fail(exc)
    except KeyboardInterrupt:
        err_console.print("[red]Interrupted.[/red]")
        raise typer.Exit(1) from None
    except Exception as exc:  # a bug, not the user's doing: one line, the traceback only with --debug
        if Debug.enabled:
            logging.getLogger("dlt_ingest").exception("internal error")
        err_console.print(f"Internal error: {describe(exc)}. Run again with --debug for the traceback and "
                          f"report it.", style="red", markup=False)
        raise typer.Exit(1) from None
