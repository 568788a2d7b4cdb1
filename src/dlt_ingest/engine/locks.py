"""One run at a time per job: OS file locks in dlt's working folder.

Two `ingest run` processes sharing a working folder must never load the same job at once (both would
extract from the same cursor and write the rows twice). Each run takes a non-blocking lock per selected
job before anything starts; if another run holds one, this run refuses at once and names it. Locks die
with their process, so a killed run never leaves a stale lock behind. Runs on different machines (e.g.
two Databricks clusters) do not share a working folder: the destination's lease in the lake keeps those
apart (`Destination.lease`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO

from dlt_ingest.errors import LockError
from dlt_ingest.workbook.model import Job

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; documented
    fcntl = None  # type: ignore[assignment]


def _lock_path(working_dir: str, job: Job) -> Path:
    return Path(working_dir) / "locks" / f"{job.pipeline_name}.lock"


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip() or "another process"


@contextmanager
def job_locks(jobs: Sequence[Job], working_dir: str) -> Iterator[None]:
    """Hold a lock for every job for the duration of the run; raise `LockError` if one is taken."""
    if fcntl is None:
        yield
        return
    handles: list[IO[str]] = []
    try:
        for job in jobs:
            path = _lock_path(working_dir, job)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle: IO[str] = path.open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(handle)
                handle.close()
                raise LockError(
                    f"job {job.name} is being loaded by another ingest run ({holder}): wait for it to finish, "
                    f"or --exclude '{job.name}'"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, started {datetime.now():%Y-%m-%d %H:%M:%S}")
            handle.flush()
            handles.append(handle)
        yield
    finally:
        for handle in handles:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
