"""Where the lake's leases live, with the two atomic operations a lease needs: create-if-absent and
compare-and-swap.

- Local disk: `<lake>/_ingest_leases/<pipeline>.lease`. A lease is created by writing a hidden temporary file
  and hard-linking it to the lease name (`os.link` fails when the name exists, so a lease appears whole or
  not at all); a swap or a delete compares the content it read under an exclusive `flock` on a guard file
  beside the lease, so two machines sharing the folder never both win.
- Azure Blob Storage / ADLS Gen2: the blob `<prefix>/_ingest_leases/<pipeline>.lease`, created with
  `If-None-Match: *` (`overwrite=False`) and swapped or deleted with `If-Match: <etag>`, through the same
  synchronous SDK client as the start check.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

LEASE_FOLDER = "_ingest_leases"

try:
    import fcntl
except ImportError:  # Windows: the swap is not guarded; documented (docs/reliability.md)
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Stored:
    """A lease as read: its text and the version a swap or delete must still find."""

    text: str
    version: Any


class LeaseStore(Protocol):
    def create(self, name: str, text: str) -> Stored | None:
        """Write `text` as lease `name` only if there is none; the stored lease, or None when one exists."""
        ...

    def read(self, name: str) -> Stored | None: ...

    def swap(self, name: str, text: str, version: Any) -> Stored | None:
        """Replace the lease only if it is still `version`; the new lease, or None when it changed."""
        ...

    def delete(self, name: str, version: Any) -> bool:
        """Delete the lease only if it is still `version`."""
        ...


class LocalLeaseStore:
    def __init__(self, lake_root: Path) -> None:
        self.folder = lake_root / LEASE_FOLDER

    def _path(self, name: str) -> Path:
        return self.folder / name

    @contextlib.contextmanager
    def _guard(self, name: str) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f".{name}.guard", "a+b") as guard:
            if fcntl is not None:
                fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(guard.fileno(), fcntl.LOCK_UN)

    def _written(self, text: str) -> Path:
        """`text` in a hidden file of its own, on disk before anyone can see it under a lease name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.folder / f".{uuid.uuid4().hex}.tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        return temp

    def create(self, name: str, text: str) -> Stored | None:
        temp = self._written(text)
        try:
            os.link(temp, self._path(name))
        except FileExistsError:
            return None
        finally:
            temp.unlink(missing_ok=True)
        return Stored(text, text)

    def read(self, name: str) -> Stored | None:
        try:
            text = self._path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return Stored(text, text)

    def swap(self, name: str, text: str, version: Any) -> Stored | None:
        with self._guard(name):
            current = self.read(name)
            if current is None or current.version != version:
                return None
            os.replace(self._written(text), self._path(name))
        return Stored(text, text)

    def delete(self, name: str, version: Any) -> bool:
        with self._guard(name):
            current = self.read(name)
            if current is None or current.version != version:
                return False
            self._path(name).unlink()
        return True


class AzureLeaseStore:
    def __init__(self, container: Any, prefix: str) -> None:
        self.container = container
        self.prefix = "/".join(p for p in (prefix.strip("/"), LEASE_FOLDER) if p)

    def _blob(self, name: str) -> Any:
        return self.container.get_blob_client(f"{self.prefix}/{name}")

    def create(self, name: str, text: str) -> Stored | None:
        from azure.core.exceptions import ResourceExistsError

        try:
            written = self._blob(name).upload_blob(text.encode("utf-8"), overwrite=False)
        except ResourceExistsError:
            return None
        return Stored(text, written["etag"])

    def read(self, name: str) -> Stored | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            download = self._blob(name).download_blob()
            return Stored(download.readall().decode("utf-8", errors="replace"), download.properties.etag)
        except ResourceNotFoundError:
            return None

    def swap(self, name: str, text: str, version: Any) -> Stored | None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            written = self._blob(name).upload_blob(text.encode("utf-8"), overwrite=True, etag=version,
                                                   match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return Stored(text, written["etag"])

    def delete(self, name: str, version: Any) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            self._blob(name).delete_blob(etag=version, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True
