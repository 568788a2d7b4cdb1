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
from typing import Any

from dlt_ingest.audit import is_remote, remote_filesystem
from dlt_ingest.errors import ConfigError
from dlt_ingest.secrets.redaction import redact

log = logging.getLogger("dlt_ingest.durable")

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


class _Target:
    """Read/write whole files at a durable location (bucket via fsspec, mount via plain file calls)."""

    def __init__(self, location: str) -> None:
        self.location = location.rstrip("/")
        self.fs: Any = remote_filesystem(self.location) if is_remote(self.location) else None

    def path(self, relative: str) -> str:
        return f"{self.location}/{relative}"

    def read(self, relative: str) -> bytes:
        path = self.path(relative)
        if self.fs is not None:
            return bytes(self.fs.cat_file(path)) if self.fs.exists(path) else b""
        local = Path(path)
        return local.read_bytes() if local.exists() else b""

    def write(self, relative: str, content: bytes) -> None:
        path = self.path(relative)
        if self.fs is not None:
            self.fs.pipe_file(path, content)
            return
        local = Path(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content)  # one sequential write of a whole file: what the FUSE mounts support


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
        target = _Target(self.durable)
        written = []
        for file in sorted(p for p in Path(self.local).rglob("*") if p.is_file()):
            relative = file.relative_to(self.local).as_posix()
            target.write(relative, _merge(target.read(relative), file.read_bytes(), file.name))
            written.append(target.path(relative))
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
                reason = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
                problems.append(f"copying {folder.local} to {folder.durable} failed: {reason}")
                log.error("Could not copy %s to %s: %s (the files stay in %s)", folder.local, folder.durable,
                          reason, folder.local)
                continue
            shutil.rmtree(folder.local, ignore_errors=True)
        return problems
