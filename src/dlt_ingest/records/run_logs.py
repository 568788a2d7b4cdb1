"""Run logs in the guide's layout, routed by the job that emitted each record.

    logs/main_orchestrator_<YYYYMMDD_HHMMSS>.log       every record of the run
    logs/source_<source_name>_<YYYYMMDD_HHMMSS>.log     only that source's jobs (also under threads)
    logs/destination_<name>_<YYYYMMDD_HHMMSS>.log       records about the lake
    logs/errors/<source_name>_errors_<YYYYMMDD>.log     errors with tracebacks, appended per day

A slice of a fan-out adds `_<slice>` to each name, so slices running on several machines at once never
merge into the same file.

The job running in the current thread is kept in a `ContextVar`, so records from dlt and from drivers
reach the right source file. Every handler masks secrets before anything is written.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dlt_ingest.redaction import RedactingFilter, install_log_redaction

LOG_FORMAT = "%(asctime)s | %(levelname)-8s | %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LOGGER_NAME = "dlt_ingest"

current_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_source", default=None)
current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_job", default=None)

log = logging.getLogger(LOGGER_NAME)


class _JobContextFilter(logging.Filter):
    """Stamps each record with the source and job of the thread that emitted it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "source_name"):
            record.source_name = current_source.get()
        if not hasattr(record, "job_name"):
            record.job_name = current_job.get()
        return True


class _SourceFilter(logging.Filter):
    def __init__(self, source_name: str) -> None:
        super().__init__()
        self.source_name = source_name

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "source_name", None) == self.source_name


class _DestinationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return bool(getattr(record, "destination", False)) or record.name.startswith(("adlfs", "fsspec"))


class _ForwardToRoot(logging.Handler):
    """Installed on dlt's own logger (which does not propagate) so its records reach our files."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger().handle(record)


def _formatter() -> logging.Formatter:
    return logging.Formatter(LOG_FORMAT, DATE_FORMAT)


@dataclass
class RunLogs:
    """The handlers of one run; `close()` detaches them all."""

    log_dir: Path
    stamp: str
    destination_name: str
    main_file: Path
    suffix: str = ""
    _handlers: list[logging.Handler] = field(default_factory=list)
    _source_files: dict[str, Path] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _attach(self, handler: logging.Handler, level: int = logging.INFO) -> logging.Handler:
        handler.setLevel(level)
        handler.setFormatter(_formatter())
        handler.addFilter(_JobContextFilter())
        handler.addFilter(RedactingFilter())
        logging.getLogger().addHandler(handler)
        self._handlers.append(handler)
        return handler

    def add_source(self, source_name: str) -> Path:
        """Open the per-source log and the source's error log (once per source)."""
        with self._lock:
            if source_name in self._source_files:
                return self._source_files[source_name]
            path = self.log_dir / f"source_{source_name}_{self.stamp}{self.suffix}.log"
            handler = self._attach(logging.FileHandler(path, encoding="utf-8", delay=True))
            handler.addFilter(_SourceFilter(source_name))
            errors = self.log_dir / "errors" / f"{source_name}_errors_{self.stamp[:8]}{self.suffix}.log"
            errors.parent.mkdir(parents=True, exist_ok=True)
            error_handler = self._attach(logging.FileHandler(errors, encoding="utf-8", delay=True), logging.ERROR)
            error_handler.addFilter(_SourceFilter(source_name))
            self._source_files[source_name] = path
            return path

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()
        self._handlers.clear()


def _install_dlt_forwarding() -> None:
    dlt_logger = logging.getLogger("dlt")
    if not any(isinstance(h, _ForwardToRoot) for h in dlt_logger.handlers):
        for handler in dlt_logger.handlers[:]:
            dlt_logger.removeHandler(handler)
        dlt_logger.addHandler(_ForwardToRoot())


def open_run_logs(log_dir: str | Path, destination_name: str, started: datetime, suffix: str = "") -> RunLogs:
    """Create the run's main and destination logs; sources are added as their jobs start."""
    install_log_redaction()
    directory = Path(log_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d_%H%M%S")
    main_file = directory / f"main_orchestrator_{stamp}{suffix}.log"
    logs = RunLogs(directory, stamp, destination_name, main_file, suffix)
    logs._attach(logging.FileHandler(main_file, encoding="utf-8"))
    destination_handler = logs._attach(logging.FileHandler(
        directory / f"destination_{destination_name}_{stamp}{suffix}.log", encoding="utf-8", delay=True))
    destination_handler.addFilter(_DestinationFilter())
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    _install_dlt_forwarding()
    return logs


class _NoTracebackFormatter(logging.Formatter):
    """One line per record: tracebacks stay in the log files (the record is shared, so it is restored)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def _for_console(record: logging.LogRecord) -> bool:
    """Our records, and dlt's warnings (dlt's info lines stay in the log files)."""
    return record.name.startswith(LOGGER_NAME) or (is_dlt_record(record) and record.levelno >= logging.WARNING)


def is_dlt_record(record: logging.LogRecord) -> bool:
    return record.name == "dlt" or record.name.startswith("dlt.")


class CurrentStreamHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever `sys.stdout` (or `sys.stderr`) is when a record comes, not when the handler was
    made: a live display redirects stdout to print lines above itself, a test runner swaps both."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr if self._stderr else sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class ConsoleLineHandler(CurrentStreamHandler):
    """Plain timestamped lines for non-terminals (Databricks job output, CI, pipes); tracebacks only with
    `--debug` (the log files always have them)."""

    def __init__(self, tracebacks: bool = False) -> None:
        super().__init__()
        self.setFormatter(_formatter() if tracebacks else _NoTracebackFormatter(LOG_FORMAT, DATE_FORMAT))
        self.addFilter(RedactingFilter())
        self.addFilter(_for_console)


class _JobWarnings(logging.Handler):
    """Collects the warnings dlt (or a record marked `job_warning`) logs while one job runs in this thread."""

    def __init__(self, job_name: str) -> None:
        super().__init__(logging.WARNING)
        self.job_name = job_name
        self.lines: list[str] = []
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if current_job.get() != self.job_name:
            return
        if is_dlt_record(record) or getattr(record, "job_warning", False):
            line = " ".join(record.getMessage().split())
            if line not in self.lines:
                self.lines.append(line)


@contextmanager
def job_warnings(job_name: str) -> Iterator[list[str]]:
    """The warnings of the job, in the order they were logged (for its result and the audit)."""
    handler = _JobWarnings(job_name)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


@contextmanager
def job_context(source_name: str, job_name: str) -> Iterator[None]:
    source_token = current_source.set(source_name)
    job_token = current_job.set(job_name)
    try:
        yield
    finally:
        current_source.reset(source_token)
        current_job.reset(job_token)
