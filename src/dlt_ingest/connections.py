"""`ingest test-connections`: reach every selected source and check the lake accepts a write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from dlt.common.configuration import resolve_configuration
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.common.storages.fsspec_filesystem import fsspec_from_config

from dlt_ingest.destinations.filesystem import LakeTarget
from dlt_ingest.job_runner import one_line_reason
from dlt_ingest.orchestrator import RunOptions, plan_run
from dlt_ingest.secrets.chain import resolve_source_credentials
from dlt_ingest.sources import REGISTRY


@dataclass(frozen=True)
class ConnectionCheck:
    name: str
    kind: str
    ok: bool
    detail: str


def check_lake_writable(lake: LakeTarget) -> ConnectionCheck:
    """Write and delete a small marker file where the data would go."""
    try:
        config = resolve_configuration(FilesystemConfiguration(lake.bucket_url),
                                       sections=("destination", "filesystem"))
        filesystem, root = fsspec_from_config(config)
        marker = f"{root.rstrip('/')}/_ingest_write_test_{uuid.uuid4().hex}"
        filesystem.makedirs(root, exist_ok=True)
        filesystem.pipe(marker, b"ok")
        filesystem.rm(marker)
    except Exception as exc:  # every failure becomes a row of the report
        return ConnectionCheck(lake.display(), "destination", False, one_line_reason(exc))
    return ConnectionCheck(lake.display(), "destination", True, "writable")


def check_connections(options: RunOptions) -> list[ConnectionCheck]:
    """One check per distinct source of the selected jobs, then the lake."""
    _, jobs, _, lake = plan_run(options)
    checks: list[ConnectionCheck] = []
    seen: set[str] = set()
    for job in jobs:
        if job.source_name in seen:
            continue
        seen.add(job.source_name)
        module = REGISTRY.get(job.source_type)
        try:
            credentials = resolve_source_credentials(module.credentials_spec, job.source_name)
            module.test_connection(credentials.config)
            target = module.describe_target(credentials.config)
            checks.append(ConnectionCheck(job.source_name, job.source_type, True, f"reached {target}".strip()))
        except Exception as exc:  # every failure becomes a row of the report
            checks.append(ConnectionCheck(job.source_name, job.source_type, False, one_line_reason(exc)))
    checks.append(check_lake_writable(lake))
    return checks
