"""Checks a user runs before trusting a run: every source reachable with its credentials, the lake
writable (`ingest test-connections`), every credential resolvable (`validate-config --check-secrets`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlt.common.configuration.specs import BaseConfiguration

from dlt_ingest.engine.plan import RunOptions, decided_jobs, plan_run
from dlt_ingest.errors import CellProblem, describe
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.secrets.check import SecretsReport, check_source_secrets, list_settings
from dlt_ingest.settings import IngestSettings
from dlt_ingest.sources import REGISTRY
from dlt_ingest.sources.base import SourceSession
from dlt_ingest.workbook.model import Job
from dlt_ingest.workbook.rules import WorkbookConfig


@dataclass(frozen=True)
class ConnectionCheck:
    name: str
    kind: str
    ok: bool
    detail: str


def check_connections(options: RunOptions) -> list[ConnectionCheck]:
    """One check per distinct source of the selected jobs, then the lake."""
    planned = plan_run(options)
    checks: list[ConnectionCheck] = []
    seen: set[str] = set()
    for job in planned.jobs:
        if job.source_name in seen:
            continue
        seen.add(job.source_name)
        module: Any = REGISTRY.get(job.source_type)
        try:
            credentials = resolve_source_credentials(module.credentials_spec, job.source_name)
            module.test_connection(credentials.config)
            target = module.describe_target(credentials.config)
            checks.append(ConnectionCheck(job.source_name, job.source_type, True, f"reached {target}".strip()))
        except Exception as exc:  # every failure becomes a row of the report
            checks.append(ConnectionCheck(job.source_name, job.source_type, False, describe(exc)))
    destination = planned.destination
    try:
        destination.check_writable()
        checks.append(ConnectionCheck(destination.describe(), "destination", True, "writable"))
    except Exception as exc:  # every failure becomes a row of the report
        checks.append(ConnectionCheck(destination.describe(), "destination", False, describe(exc)))
    return checks


@dataclass(frozen=True)
class SourceCheck:
    """What `validate-config --check-sources` found: cells the sources refuse, sources it could not reach."""

    problems: list[CellProblem]
    unreachable: list[ConnectionCheck]


def check_against_sources(workbook: WorkbookConfig) -> SourceCheck:
    """Every enabled row checked against its source's catalog (tables, columns, types, backends); each
    source's credentials resolved once; a source that cannot be reached is reported, not guessed about."""
    problems: list[CellProblem] = []
    unreachable: dict[str, ConnectionCheck] = {}
    sessions: dict[str, SourceSession[Any]] = {}
    jobs = decided_jobs(workbook.jobs, IngestSettings.load())
    try:
        for job in jobs:
            if job.source_name in unreachable:
                continue
            module: Any = REGISTRY.get(job.source_type)
            try:
                if job.source_name not in sessions:
                    credentials = resolve_source_credentials(module.credentials_spec, job.source_name).config
                    sessions[job.source_name] = module.open_session(
                        credentials, [j for j in jobs if j.source_name == job.source_name])
                found = module.check_against_source(job, sessions[job.source_name])
            except Exception as exc:  # a source that cannot answer is one row of the report
                unreachable[job.source_name] = ConnectionCheck(job.source_name, job.source_type, False,
                                                               describe(exc))
                continue
            problems.extend(workbook.problem(job, column, message) for column, message in found)
    finally:
        for opened in sessions.values():
            opened.close()
    return SourceCheck(problems, list(unreachable.values()))


def source_specs(jobs: Sequence[Job]) -> dict[str, type[BaseConfiguration]]:
    """Each distinct source of `jobs` and the credentials spec of its type."""
    specs: dict[str, type[BaseConfiguration]] = {}
    for job in jobs:
        specs.setdefault(job.source_name, REGISTRY.get(job.source_type).credentials_spec)
    return specs


def check_secrets(jobs: Sequence[Job]) -> SecretsReport:
    """Resolve every job's credentials without running anything; the report lists who holds each setting."""
    return check_source_secrets(source_specs(jobs))


def list_secrets(jobs: Sequence[Job]) -> SecretsReport:
    return list_settings(source_specs(jobs))
