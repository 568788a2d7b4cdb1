"""The fan-out's summary: every planned job's outcome across all slices, read back from the shared audit.

Each slice writes its own audit file (`audit_<day>_<slice>.csv`) in the same audit folder; the last task of
the fan-out reads every row written since the plan and renders one page, `fanout_<YYYYMMDD_HHMMSS>.html`.
A planned job without a row since then did not run (its slice failed before it, or never started).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dlt_ingest.records.audit import existing_audit_folder, read_audit
from dlt_ingest.records.html import cards, page, table
from dlt_ingest.records.report import write_text

NOT_RUN = "NOT RUN"


@dataclass(frozen=True)
class PlannedOutcome:
    slice: str
    job: str
    row: Mapping[str, str] | None  # the job's last audit row since the plan

    @property
    def status(self) -> str:
        return self.row["status"] if self.row else NOT_RUN


@dataclass(frozen=True)
class FanoutSummary:
    since: str
    outcomes: list[PlannedOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status == "SUCCESS" for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.count("SUCCESS") - self.count(NOT_RUN)


def summarise(audit_dir: str, slices: Mapping[str, Sequence[str]], since: str) -> FanoutSummary:
    """Per planned job (slice name -> job names), its latest audit row written at or after `since`."""
    latest: dict[str, dict[str, str]] = {}
    for row in read_audit(existing_audit_folder(audit_dir)):
        stamp = row.get("timestamp") or ""
        if stamp >= since and stamp >= latest.get(row.get("job_name", ""), {}).get("timestamp", ""):
            latest[row.get("job_name", "")] = row
    return FanoutSummary(since, [PlannedOutcome(name, job, latest.get(job))
                                 for name, jobs in slices.items() for job in jobs])


def render_fanout(summary: FanoutSummary) -> str:
    outcomes = summary.outcomes
    rows_total = sum(int(o.row.get("rows_processed") or 0) for o in outcomes if o.row)
    body = cards([("slices", str(len({o.slice for o in outcomes}))), ("jobs", str(len(outcomes))),
                  ("succeeded", str(summary.count("SUCCESS"))), ("failed", str(summary.failed)),
                  ("not run", str(summary.count(NOT_RUN))), ("rows", f"{rows_total:,}")])
    lines = []
    for o in outcomes:
        row = o.row or {}
        lines.append([(o.slice, ""), (o.job, ""), (o.status, o.status if o.row else "FAILED"),
                      (f"{int(row.get('rows_processed') or 0):,}", ""), (row.get("duration_seconds", ""), ""),
                      (row.get("run_id", ""), ""), (row.get("error_message", ""), "")])
    body += "<h2>Jobs per slice</h2>" + table(["slice", "job", "status", "rows", "seconds", "run", "error"], lines,
                                              numeric=(3, 4))
    return page("dlt-ingest fan-out", f"Planned {summary.since}; every slice's audit rows since then", body)


def write_fanout_report(audit_dir: str, summary: FanoutSummary) -> str:
    stamp = summary.since.replace("-", "").replace(":", "").replace(" ", "_")
    return write_text(audit_dir, f"fanout_{stamp}.html", render_fanout(summary))
