"""The opt-in Unity Catalog step at the end of a run: register every job that succeeded.

Best-effort like the other steps after the jobs: whatever fails is a note of the run (and a warning in the
log), never a failed job or another exit code. The jobs' data is safe in the lake whatever the catalog does.
"""

from __future__ import annotations

import logging
from functools import partial

from dlt_ingest.destinations import Destination
from dlt_ingest.errors import describe
from dlt_ingest.records.catalog import CatalogRegistrar, CatalogUnavailable, Statements
from dlt_ingest.records.catalog_runners import open_statements
from dlt_ingest.results import RunReport
from dlt_ingest.settings import UnityCatalogSettings
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.catalog")


def _failed(what: str, exc: Exception) -> str:
    reason = describe(exc)
    log.warning("Unity Catalog: %s failed: %s", what, reason)
    return f"Unity Catalog: {what} failed: {reason}"


def _stopped(left: int, exc: Exception) -> str:
    reason = describe(exc)
    log.warning("Unity Catalog: stopped: %s", reason)
    return f"Unity Catalog: stopped, {left} job(s) not registered: {reason}"


def register_in_catalog(report: RunReport, settings: UnityCatalogSettings | None, destination: Destination,
                        statements: Statements | None = None) -> list[str]:
    """Create or update the catalog objects of the run's successful jobs; returns the run's notes."""
    if settings is None:
        return []
    jobs: list[Job] = list(dict.fromkeys(r.job for r in report.succeeded))
    if not jobs:
        return []
    try:
        statements = statements or open_statements(settings)
        root = settings.lake_url or destination.catalog_root()
    except Exception as exc:  # no warehouse client, no Spark session, no lake URL
        return [_stopped(len(jobs), exc)]
    registrar = CatalogRegistrar(settings, statements, root)
    notes: list[str] = []
    registered = 0
    for position, job in enumerate(jobs):
        try:
            outcome = registrar.register(job, partial(destination.describe_table, job))
        except CatalogUnavailable as exc:  # every later job would wait for the same failure
            notes.append(_stopped(len(jobs) - position, exc))
            break
        except Exception as exc:
            notes.append(_failed(job.name, exc))
            continue
        for warning in outcome.warnings:
            log.warning("Unity Catalog: %s", warning)
            notes.append(f"Unity Catalog: {warning}")
        registered += bool(outcome.objects)
    summary = f"Unity Catalog: {registered} of {len(jobs)} job(s) registered in catalog {settings.catalog}"
    log.info(summary)
    return [summary, *notes]
