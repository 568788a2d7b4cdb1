"""Test-only crash points: `DLT_INGEST_TEST_CRASH_AT` makes a run kill itself (SIGKILL) at a chosen step.

The fault-injection tests (tests/test_faults_kill.py) need a process to die at a precise place, without
sleeps. dlt reports progress of every step to a collector; the collector below kills the process the
moment the chosen point is reached:

- `extract`: after the second batch of rows was written to the extract package (extraction mid-way);
- `normalize`: when normalize starts on the extracted package;
- `load`: after the first data file was uploaded while others are still to go;
- `after_files`: after every data file was uploaded, before dlt writes the state and the completion record.

Never set it in production: unset (the normal case) the run uses dlt's default (no) progress collector.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from dlt.common.runtime.collector import NullCollector

CRASH_ENV = "DLT_INGEST_TEST_CRASH_AT"
CRASH_POINTS = ("extract", "normalize", "load", "after_files")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashCollector(NullCollector):
    """Counts dlt's progress updates and kills the process at `point`."""

    def __init__(self, point: str) -> None:
        super().__init__()
        self.point = point
        self.step = ""
        self.extract_batches = 0
        self.jobs_done = 0
        self.jobs_total = 0

    def _start(self, step: str) -> None:
        self.step = step

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if self.step.startswith("Extract") and name != "Resources" and inc > 0:
            self.extract_batches += 1
            if self.point == "extract" and self.extract_batches >= 2:
                _die()
        elif self.step.startswith("Normalize") and name == "Files" and self.point == "normalize":
            _die()
        elif self.step.startswith("Load") and name == "Jobs" and not label:
            self._count_job(inc, total, inc_total)

    def _count_job(self, inc: int, total: int | None, inc_total: int | None) -> None:
        if total is not None:  # dlt's initial count: jobs already done, all jobs
            self.jobs_done, self.jobs_total = inc, total
        else:
            self.jobs_done += inc
            self.jobs_total += inc_total or 0
        if self.point == "load" and 0 < self.jobs_done < self.jobs_total:
            _die()
        if self.point == "after_files" and self.jobs_total and self.jobs_done >= self.jobs_total:
            _die()


def pipeline_kwargs() -> dict[str, Any]:
    """Extra `dlt.pipeline` arguments: a crash collector when the test-only variable names a point."""
    point = os.environ.get(CRASH_ENV, "").strip().lower()
    if point not in CRASH_POINTS:
        return {}
    return {"progress": CrashCollector(point)}
