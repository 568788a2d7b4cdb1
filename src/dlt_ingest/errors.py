"""User-facing errors of dlt-ingest, and the one way any exception is told to a user.

Every error a user is expected to meet is an ``IngestError`` whose message says what went wrong,
where, and how to fix it. The CLI prints it as one red line; ``exit_code`` tells which code to use.

    IngestError                      (exit 2 unless stated)
    ├── ConfigError                  the workbook, .dlt settings or command line are wrong; nothing ran
    │   ├── WorkbookError            the workbook cannot be read at all (missing, corrupt, wrong format)
    │   └── WorkbookValidationError  the workbook was read but has invalid cells (carries every problem)
    ├── SecretError
    │   ├── SecretNotFoundError      no provider holds a required key (lists what was tried)
    │   └── SecretProviderError      a configured provider failed (names the provider)
    ├── DestinationError             the lake cannot be written (names account/container, never the key)
    ├── LockError                    another run holds the lock of a selected job
    ├── CatalogError                 a Unity Catalog statement failed (a note of the run, exit code unchanged)
    └── JobError                     one job failed (exit 1; the run goes on with the other jobs)
        ├── LoadTypeChanged          a row's load_type differs from the job's earlier loads (needs --reset-state)
        └── SourceError              the source rejected or broke the extraction
            ├── ApiError             an API answered in a way the job cannot use
            │   ├── CredentialsRejected   401/403: the configured credentials were refused
            │   ├── ApiUnreachable        no HTTP answer at all, after the retries
            │   └── OriginRefused         a link or redirect led to another origin: refused, nothing sent
            ├── UnrepresentableValue a source value the lake cannot hold exactly (names the column)
            └── TypeContractError    a column's type cannot be kept exactly, or changed in the source
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dlt_ingest.redaction import redact


class IngestError(Exception):
    """Base of all expected errors: the message is meant for the user and names the fix."""

    exit_code = 2
    # Whether another attempt could succeed: True/False decide, None lets `engine.retry.is_transient` judge the text.
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
    """Another ``ingest run`` holds the lock of a selected job."""


class CatalogError(IngestError):
    """Registering the lake in Unity Catalog failed; a note of the run, never a failed job."""


class JobError(IngestError):
    """One job failed; the others still run."""

    exit_code = 1


class LoadTypeChanged(JobError):
    """The workbook switched a job between FULL and INCREMENTAL since its earlier loads."""

    transient = False


class SourceError(JobError):
    """The source rejected the extraction (missing table, refused connection, ...)."""


class SourceSettingError(SourceError):
    """A setting of the job's source is wrong (a port, a timeout): no attempt succeeds until it is fixed."""

    transient = False


class ApiError(SourceError):
    """An API answered in a way the job cannot use; repeating the job would not help."""

    transient = False


class CredentialsRejected(ApiError):
    """401/403: the configured credentials were refused."""


class ApiUnreachable(ApiError):
    """No HTTP answer at all (DNS, refused connection, timeout), after dlt's retries."""


class OriginRefused(ApiError):
    """A next-page link, absolute URL or redirect pointed away from base_url's origin (scheme, host, port):
    the request was not sent, so no credential left the origin it was configured for."""


class UnrepresentableValue(SourceError):
    """A source value the lake cannot hold exactly; the job fails instead of landing a changed value."""

    transient = False


class TypeContractError(SourceError):
    """A column cannot be read exactly with the chosen backend, or its type changed against the lake's."""

    transient = False


class RowMismatch(TypeContractError):
    """The workbook row asks for what its table refuses (a missing column, a backend that cannot read a
    column exactly); `workbook_column` is the cell to fix, so `validate-config --check-sources` locates it."""

    def __init__(self, message: str, workbook_column: str) -> None:
        super().__init__(message)
        self.workbook_column = workbook_column


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it wraps: dlt's step failures (`.exception`), `__cause__`, a driver's `.orig`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "exception", None) or current.__cause__ or getattr(current, "orig", None)
        current = inner if isinstance(inner, BaseException) else None


def innermost(exc: BaseException) -> BaseException:
    """The first `IngestError` in the chain, else its deepest cause."""
    last = exc
    for link in _causes(exc):
        if isinstance(link, IngestError):
            return link
        last = link
    return last


def describe(exc: BaseException, prefix: str = "") -> str:
    """The one line a user sees for any exception: an `IngestError`'s own message (it names the fix),
    else `Type: first line` of the innermost cause; every known secret masked."""
    cause = innermost(exc)
    if isinstance(cause, IngestError):
        return redact(cause.message)
    line = first_line(str(cause))
    return redact(prefix + (f"{type(cause).__name__}: {line}" if line else type(cause).__name__))
