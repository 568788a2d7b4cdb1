"""User-facing errors of dlt-ingest.

Every error a user is expected to meet is an ``IngestError`` whose message says what went wrong,
where, and how to fix it. The CLI prints it as one red line; ``exit_code`` tells which code to use.

    IngestError                      (exit 2 unless stated)
    ├── ConfigError                  the workbook or .dlt settings are wrong
    │   ├── WorkbookError            the workbook cannot be read at all (missing, corrupt, wrong format)
    │   └── WorkbookValidationError  the workbook was read but has invalid cells (carries every problem)
    ├── SecretError
    │   ├── SecretNotFoundError      no provider holds a required key (lists what was tried)
    │   └── SecretProviderError      a configured provider failed (names the provider)
    ├── DestinationError             the lake cannot be written (names account/container, never the key)
    ├── LockError                    another run holds the lake lock
    └── JobError                     one job failed (exit 1; the run goes on with the other jobs)
        └── SourceError              the source rejected or broke the extraction
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class IngestError(Exception):
    """Base of all expected errors: the message is meant for the user and names the fix."""

    exit_code = 2
    # Whether another attempt could succeed: True/False decide, None lets `retry.is_transient` judge the text.
    transient: bool | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(IngestError):
    """The configuration (workbook, .dlt files, command line) is wrong; nothing ran."""


class WorkbookError(ConfigError):
    """The workbook file cannot be opened or has no usable sheet."""


@dataclass(frozen=True)
class CellProblem:
    """One invalid cell, located as Excel shows it (``SourceConfig!E7``)."""

    sheet: str
    row: int
    column: str
    column_letter: str
    message: str

    @property
    def location(self) -> str:
        if not self.column_letter:  # a whole row, e.g. a missing header column
            return f"{self.sheet}!{self.row}:{self.row}"
        return f"{self.sheet}!{self.column_letter}{self.row}"

    def __str__(self) -> str:
        return f"{self.location} {self.column}: {self.message}"


class WorkbookValidationError(ConfigError):
    """The workbook has invalid cells; carries all of them so the user fixes them in one go."""

    def __init__(self, path: str, problems: Sequence[CellProblem]) -> None:
        self.path = path
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"{path}: {count} {noun} found:\n" + "\n".join(str(p) for p in self.problems)
        )


class SecretError(IngestError):
    """A credential could not be resolved."""


class SecretNotFoundError(SecretError):
    """No provider holds a required key."""


class SecretProviderError(SecretError):
    """A configured secret provider failed (unreachable, permission denied)."""


class DestinationError(IngestError):
    """The lake cannot be reached or written."""


class LockError(IngestError):
    """Another ``ingest run`` holds the lock on this lake."""


class JobError(IngestError):
    """One job failed; the others still run."""

    exit_code = 1


class SourceError(JobError):
    """The source rejected the extraction (missing table, refused connection, ...)."""
