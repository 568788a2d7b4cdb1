"""Run observers for tests that must change the source at a precise moment of a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlt.common.runtime.collector import Collector, NullCollector

from dlt_ingest.engine.deletes import PROGRESS
from dlt_ingest.engine.orchestrator import SilentObserver
from dlt_ingest.workbook.model import Job


class ChangeSourceAtNormalize(SilentObserver):
    """Runs `statement` on `database` when a job named `job_name` reaches dlt's normalize step: after the read,
    before the reconciliation count, the moment a row committed late inside the window is meant to be caught."""

    def __init__(self, database: Any, job_name: str, statement: str) -> None:
        self.database, self.job_name, self.statement = database, job_name, statement

    def collector(self, job: Job) -> Collector | None:
        if job.name != self.job_name:
            return None
        observer = self

        class AtNormalize(NullCollector):
            def _start(self, step: str) -> None:
                if step.startswith("Normalize"):
                    observer.database.execute(observer.statement)

        return AtNormalize()


class ChangeSourceAtComparison(SilentObserver):
    """Calls `change()` once when a job named `job_name` starts comparing keys for delete detection: after the
    incremental read, before the lake's and the source's keys are digested and looked up."""

    def __init__(self, job_name: str, change: Callable[[], None]) -> None:
        self.job_name, self.change, self.calls = job_name, change, 0

    def collector(self, job: Job) -> Collector | None:
        if job.name != self.job_name:
            return None
        observer = self

        class AtComparison(NullCollector):
            def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
                       message: str | None = None, label: str | None = None) -> None:
                if name == PROGRESS and label == "start" and not observer.calls:
                    observer.calls += 1
                    observer.change()

        return AtComparison()
