"""Crash points for the fault-injection tests: a run that kills itself (SIGKILL) at a chosen step.

`python tests/crash_points.py POINT` runs the project in the current folder through the public API
(`dlt_ingest.run`) with an observer whose dlt progress collector kills the process the moment the chosen
point is reached; nothing of this ships in the package. The points:

- `extract`: after the second batch of rows was written to the extract package (extraction mid-way);
- `normalize`: when normalize starts on the extracted package;
- `load`: after the first data file was uploaded while others are still to go;
- `after_files`: after every data file was uploaded, before dlt writes the state and the completion record;
- `compare` (jobs with detect_deletes only): during delete detection, after the source's keys were digested and
  before any tombstone was made.

"""

from __future__ import annotations

import os
import signal
import sys

from dlt.common.runtime.collector import Collector, NullCollector

import dlt_ingest
from dlt_ingest.engine.deletes import PROGRESS
from dlt_ingest.engine.orchestrator import SilentObserver
from dlt_ingest.workbook.model import Job

CRASH_POINTS = ("extract", "normalize", "load", "after_files")
COMPARE = "compare"


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
        if name == PROGRESS:
            if self.point == COMPARE and label == "source keys":
                _die()
        elif self.step.startswith("Extract") and name != "Resources" and inc > 0:
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


class CrashObserver(SilentObserver):
    """Hands every job's pipeline the crash collector."""

    def __init__(self, point: str) -> None:
        self.point = point

    def collector(self, job: Job) -> Collector | None:
        return CrashCollector(self.point)


if __name__ == "__main__":
    report = dlt_ingest.run(dlt_ingest.RunOptions(), CrashObserver(sys.argv[1]))
    sys.exit(report.exit_code)
