"""Files at a location that is either a local folder or a bucket URL (az://, abfss://, memory://, ...).

Whole files are written so that a reader never sees half of one: locally to a temporary name in the same
folder, flushed and renamed over the target (a full disk leaves the old file, or none, never a truncated
one); in a bucket by a single upload, which object stores publish whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.common.storages.fsspec_filesystem import fsspec_from_config


def is_remote(location: str) -> bool:
    """A bucket URL rather than a local folder (a Windows drive letter is a folder)."""
    scheme = location.split("://", 1)[0] if "://" in location else ""
    return bool(scheme) and scheme != "file" and len(scheme) > 1


def local_path(location: str) -> Path:
    return Path(location[len("file://"):] if location.startswith("file://") else location)


def shown_path(path: str | Path) -> Path:
    """A local path as a user would type it: relative to the current folder when it lies below it."""
    resolved = Path(path).expanduser().resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve())
    except ValueError:
        return resolved


def shown_location(location: str) -> str:
    """A folder or bucket URL for messages: buckets as they are, local folders as `shown_path`."""
    return location if is_remote(location) else str(shown_path(local_path(location)))


def remote_filesystem(location: str) -> Any:
    """An fsspec filesystem for `location`, with the lake's credentials from `[destination.filesystem]`."""
    config = resolve_configuration(FilesystemConfiguration(location), sections=("destination", "filesystem"))
    filesystem, _ = fsspec_from_config(config)
    return filesystem


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` so that `path` is either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            _sync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _sync(descriptor: int) -> None:
    """fsync, where the file system supports it (some FUSE mounts refuse it: their writes are whole anyway)."""
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


def read_file(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    if is_remote(path):
        filesystem = remote_filesystem(path)
        return bytes(filesystem.cat_file(path)) if filesystem.exists(path) else None
    local = local_path(path)
    return local.read_bytes() if local.exists() else None


def write_file(path: str, content: bytes) -> str:
    """Write a whole file (local or remote); returns the path as written."""
    if is_remote(path):
        remote_filesystem(path).pipe_file(path, content)
        return path
    local = local_path(path)
    write_atomically(local, content)
    return str(local)
