"""Files reach their final name in a local lake only when they are complete.

dlt's filesystem destination copies each file to its final path (`put_file`) and writes its JSON records
(state, schema, completion record) in place; a full disk or a crash mid-copy leaves a truncated file where
readers look. For a local lake these classes write to a hidden `.<name>.partial` beside the final name,
flush it to disk, and rename it over the final name (a rename within a folder is atomic); a failed write
removes its partial file. Everything else is dlt's own job and client. A bucket needs none of this: an
object upload appears only once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from typing import IO, Any

from dlt.common import json
from dlt.destinations.impl.filesystem.filesystem import FilesystemClient, FilesystemLoadJob

PARTIAL_SUFFIX = ".partial"


def partial_name(path: str) -> str:
    """The hidden name a file is written under before it is renamed to `path`."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{PARTIAL_SUFFIX}")


def is_partial(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith(".") and name.endswith(PARTIAL_SUFFIX)


def write_atomically(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """`write` the file's bytes into its partial name, flush them to disk, then rename it to `path`."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = partial_name(path)
    try:
        with open(temp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise


class AtomicFilesystemLoadJob(FilesystemLoadJob):
    """dlt's load job; on a local lake the copy goes through `write_atomically`."""

    def run(self) -> None:
        client = self._job_client
        if not client.config.is_local_filesystem:
            super().run()
            return
        remote_path = self.make_remote_path()
        if not client.config.as_staging_destination and client.storage_versions[0] == 1 \
                and remote_path.endswith(".gz"):
            remote_path = remote_path[:-3]  # as dlt does for its first storage version

        def copy(target: IO[bytes]) -> None:
            with open(self._file_path, "rb") as source:
                shutil.copyfileobj(source, target, 1 << 20)

        write_atomically(remote_path, copy)


class AtomicFilesystemClient(FilesystemClient):
    """dlt's filesystem client; on a local lake data files and JSON records are written atomically."""

    def get_load_job_class(self, table: Any, file_path: str) -> Any:
        job_class = super().get_load_job_class(table, file_path)
        return AtomicFilesystemLoadJob if job_class is FilesystemLoadJob else job_class

    def _write_to_json_file(self, filepath: str, data: Any) -> None:
        if not self.config.is_local_filesystem:
            super()._write_to_json_file(filepath, data)
            return
        text = json.dumps(data).encode("utf-8")

        def write(handle: IO[bytes]) -> None:
            handle.write(text)

        write_atomically(filepath, write)
