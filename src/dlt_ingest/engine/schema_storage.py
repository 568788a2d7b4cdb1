"""A pipeline's schema storage that reads a committed schema file again only when the file changed.

dlt's `LiveSchemaStorage` reloads and re-validates a committed schema from its file on every access
(`pipeline.default_schema`, about 30 times in a small job, the largest single share of its fixed cost).
The reload exists for a file changed behind the pipeline's back. Here each load notes the file's identity
(inode, size, modification time, taken before the load) and the content hash of the schema it gave: while
the file has the same identity and the live schema the same content, a reload would give exactly that
content again, so the live schema is returned as it is. dlt writes schema files atomically (a new file
renamed into place), so every write gives a new identity and the next access reloads. Anything else (a
changed live schema, an import schema folder, a missing file) takes dlt's own path.
"""

from __future__ import annotations

import os

import dlt
from dlt.common.schema import Schema
from dlt.common.storages.configuration import SchemaStorageConfiguration
from dlt.common.storages.live_schema_storage import LiveSchemaStorage

FileIdentity = tuple[int, int, int]
Loaded = tuple[FileIdentity, str]  # the file's identity and the content hash of the schema loaded from it


class KeptSchemaStorage(LiveSchemaStorage):
    """`LiveSchemaStorage` minus the reload of a schema whose file did not change."""

    def __init__(self, config: SchemaStorageConfiguration, makedirs: bool = False) -> None:
        super().__init__(config, makedirs)
        self._loaded_from: dict[str, Loaded] = {}

    def _identity(self, name: str) -> FileIdentity | None:
        try:
            found = os.stat(self.storage.make_full_path(self._file_name_in_store(name, "json")))
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    def __getitem__(self, name: str) -> Schema:
        live = self.live_schemas.get(name)
        identity = self._identity(name)  # before the load: a write during it makes the next access reload
        if (live is not None and identity is not None and not self.config.import_schema_path
                and self._loaded_from.get(name) == (identity, live.version_hash)):
            return live
        loads = live is None or not live.is_modified  # dlt answers a modified live schema without reading
        schema = super().__getitem__(name)
        if loads and identity is not None:
            self._loaded_from[name] = (identity, schema.version_hash)
        return schema


def keep_loaded_schemas(pipeline: dlt.Pipeline) -> None:
    """Give `pipeline` a `KeptSchemaStorage` over the same folder and live schemas (dlt builds a plain one again
    when the pipeline is dropped or re-initialized)."""
    current = pipeline._schema_storage
    if current is None or isinstance(current, KeptSchemaStorage):
        return
    kept = KeptSchemaStorage(current.config, makedirs=False)
    kept.live_schemas = current.live_schemas
    pipeline._schema_storage = kept
