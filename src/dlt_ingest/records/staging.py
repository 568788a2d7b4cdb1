"""Logs and audit that outlive the machine: staged on local disk during a run, merged into a durable place at the end.

A Databricks job cluster loses its local disk when the run ends. `--log-dir` / `--audit-dir` may therefore
name a durable location:

    az://container/logs, abfss://...      a bucket (object stores cannot append)
    /Volumes/<catalog>/<schema>/<volume>  a Unity Catalog volume (FUSE: no appends, no random writes)
    /dbfs/...                             DBFS through its FUSE mount (no random writes)

Log files are appended record by record and the audit CSV row by row, which none of these allow. So the
run writes into a local temp folder and `publish()` merges every file into the durable location when the
run ends, also when it failed: a file that already exists there (today's audit CSV, a source's daily error
log) is rewritten as old content + new content, without repeating a CSV header. An audit dir in a bucket
is written directly by `AuditWriter` (it already rewrites the day's file per row) and is not staged.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dlt_ingest.errors import ConfigError, describe
from dlt_ingest.storage import is_remote, read_file, write_file

log = logging.getLogger("dlt_ingest.records.staging")

MOUNT_PREFIXES = ("/Volumes/", "/dbfs/")


def is_mount(location: str) -> bool:
    """A Databricks FUSE path (volume or DBFS): plain file calls work, appends do not."""
    return location.startswith(MOUNT_PREFIXES)


def check_location(option: str, location: str) -> None:
    """`dbfs:/...` is Spark's spelling; Python's file calls need the FUSE path."""
    if location.startswith("dbfs:"):
        fuse = "/dbfs/" + location[len("dbfs:"):].lstrip("/")
        raise ConfigError(f"{option} {location}: Python writes DBFS through its mount; use {option} {fuse}")


def _merge(existing: bytes, new: bytes, name: str) -> bytes:
    """Old content + new content; a CSV's header line is not repeated."""
    if name.endswith(".csv") and existing:
        new = new.split(b"\n", 1)[1] if b"\n" in new else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    return existing + new


@dataclass
class StagedFolder:
    """One output folder of a run: `local` is where the run writes, `durable` where it ends up."""

    durable: str
    local: str
    staged: bool

    def final_path(self, written: str | Path) -> str:
        """Where a file written under `local` will be once published."""
        if not self.staged:
            return str(written)
        relative = Path(written).relative_to(self.local).as_posix()
        return f"{self.durable.rstrip('/')}/{relative}"

    def publish(self) -> list[str]:
        """Merge every staged file into the durable location; returns the durable paths written."""
        if not self.staged:
            return []
        written = []
        for file in sorted(p for p in Path(self.local).rglob("*") if p.is_file()):
            path = f"{self.durable.rstrip('/')}/{file.relative_to(self.local).as_posix()}"
            written.append(write_file(path, _merge(read_file(path) or b"", file.read_bytes(), file.name)))
        return written


def _stage(durable: str, kind: str, staged: bool) -> StagedFolder:
    if not staged:
        return StagedFolder(durable, durable, False)
    return StagedFolder(durable, tempfile.mkdtemp(prefix=f"dlt-ingest-{kind}-"), True)


@dataclass
class DurableOutputs:
    """The run's log and audit folders, staged locally when their real place cannot take appends."""

    logs: StagedFolder
    audit: StagedFolder
    published: list[str] = field(default_factory=list)

    @classmethod
    def plan(cls, log_dir: str, audit_dir: str) -> DurableOutputs:
        check_location("--log-dir", log_dir)
        check_location("--audit-dir", audit_dir)
        logs = _stage(log_dir, "logs", is_remote(log_dir) or is_mount(log_dir))
        audit = _stage(audit_dir, "audit", is_mount(audit_dir))
        return cls(logs, audit)

    def publish(self) -> list[str]:
        """Copy what was staged to its durable place and drop the local copy; a failure is logged, not raised.

        Runs in the orchestrator's `finally`, so a failed run still leaves its logs behind. A copy that fails
        keeps the local folder and names it, so a user on a still-running machine can fetch it.
        """
        problems = []
        for folder in (self.logs, self.audit):
            if not folder.staged:
                continue
            try:
                self.published += folder.publish()
            except Exception as exc:
                reason = describe(exc)
                problems.append(f"copying {folder.local} to {folder.durable} failed: {reason}")
                log.error("Could not copy %s to %s: %s (the files stay in %s)", folder.local, folder.durable,
                          reason, folder.local)
                continue
            shutil.rmtree(folder.local, ignore_errors=True)
        return problems
