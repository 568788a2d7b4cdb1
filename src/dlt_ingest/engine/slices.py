"""Cutting the selected jobs into slices for a fan-out: every job in exactly one slice, never two.

One slice per source keeps what the run does per source (one credential resolution, `max_jobs_per_source`)
on one machine. A source with more than `max_jobs_per_slice` jobs is cut into near-equal parts, and with
`max_slices` the parts are packed onto that many slices by job count (the largest first, each onto the
lightest slice). A slice selects its jobs by exact name (glob characters escaped), so two slices can never
match the same job. Slices travel as Databricks task values, whose JSON may not exceed 48 KiB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.workbook.model import Job

TASK_VALUE_LIMIT = 48 * 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_GLOB = re.compile(r"([*?\[])")


def exact_pattern(job_name: str) -> str:
    """A `--select` pattern matching exactly this job name (fnmatch's `*`, `?` and `[` escaped)."""
    return _GLOB.sub(r"[\1]", job_name)


def job_name_of(pattern: str) -> str:
    """The job name an `exact_pattern` stands for."""
    return re.sub(r"\[([*?\[])\]", r"\1", pattern)


@dataclass(frozen=True)
class Slice:
    """One iteration of the fan-out: a name (for its files and the Jobs UI) and the patterns of its jobs."""

    name: str
    select: tuple[str, ...]

    def as_value(self) -> dict[str, Any]:
        return {"name": self.name, "jobs": len(self.select), "select": list(self.select)}


def _parts(jobs: list[Job], size: int) -> list[list[Job]]:
    if size <= 0 or len(jobs) <= size:
        return [jobs]
    count = -(-len(jobs) // size)
    base, extra = divmod(len(jobs), count)
    parts, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        parts.append(jobs[start:end])
        start = end
    return parts


def plan_slices(jobs: Sequence[Job], max_jobs_per_slice: int = 0, max_slices: int = 0) -> list[Slice]:
    """The slices of `jobs` (workbook order kept inside each slice); 0 means no limit."""
    if max_jobs_per_slice < 0 or max_slices < 0:
        raise ConfigError("--max-jobs-per-slice and --max-slices must be 0 (no limit) or more")
    by_source: dict[str, list[Job]] = {}
    for job in jobs:
        by_source.setdefault(job.dataset_name, []).append(job)
    units: list[tuple[str, list[Job]]] = []
    for source, source_jobs in by_source.items():
        parts = _parts(source_jobs, max_jobs_per_slice)
        units += [(source if len(parts) == 1 else f"{source}-{i}", part) for i, part in enumerate(parts, 1)]
    if max_slices and len(units) > max_slices:
        bins: list[list[Job]] = [[] for _ in range(max_slices)]
        for _, part in sorted(units, key=lambda unit: -len(unit[1])):
            min(bins, key=len).extend(part)
        order = {job.name: i for i, job in enumerate(jobs)}
        units = [(f"slice-{i}", sorted(b, key=lambda j: order[j.name])) for i, b in enumerate(bins, 1) if b]
    return [Slice(_safe(name), tuple(exact_pattern(job.name) for job in part)) for name, part in units]


def _safe(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_") or "slice"
    return cleaned[:63]


def slices_value(slices: Sequence[Slice]) -> list[dict[str, Any]]:
    """The task value a `for_each_task` iterates over; refused when Databricks would refuse it."""
    value = [item.as_value() for item in slices]
    size = len(json.dumps(value).encode("utf-8"))
    if size > TASK_VALUE_LIMIT:
        raise ConfigError(f"the plan's {len(value)} slices take {size:,} bytes as a task value, more than the "
                          f"48 KiB Databricks allows: raise --max-jobs-per-slice or set --max-slices")
    return value


_FIX = 'pass one element of the plan\'s slices, e.g. {"name": "demo", "select": ["demo.orders"]}'


_FIX_ALL = "pass the plan's whole slices value, {{tasks.plan.values.slices}}"


def _json(option: str, text: str, fix: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(f"{option} {text[:80]!r} is not JSON: {fix}") from None


def parse_slice(text: str) -> Slice:
    """`--slice`: one element of the plan's `slices`, as the for_each task hands it over (JSON)."""
    return _slice(_json("--slice", text, _FIX))


def parse_slices(text: str) -> list[Slice]:
    """`--slices`: the plan's whole `slices` value."""
    value = _json("--slices", text, _FIX_ALL)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"--slices is not a list of slices: {_FIX_ALL}")
    return [_slice(item) for item in value]


def _slice(value: Any) -> Slice:
    select = value.get("select") if isinstance(value, dict) else None
    name = value.get("name") if isinstance(value, dict) else None
    if not isinstance(select, list) or not select or not all(isinstance(p, str) and p for p in select):
        raise ConfigError(f"a slice has no list of job patterns under \"select\": {_FIX}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"slice name {name!r} is not a slice name (lower case letters, digits, - and _): {_FIX}")
    return Slice(name, tuple(select))
