"""The lake: dlt's filesystem destination with the date-partitioned Parquet layout.

With nothing configured the lake is the local folder `./lake`. `[destination.filesystem]` in any
provider (bucket_url, layout, credentials) takes over, exactly as dlt reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dlt
from dlt.common.destination import Destination

from dlt_ingest.errors import ConfigError
from dlt_ingest.secrets.chain import lookup_setting

DEFAULT_LAYOUT = "{table_name}/{YYYY}/{MM}/{DD}/{load_id}.{file_id}.{ext}"
DEFAULT_BUCKET = "lake"
_SECTIONS = ("destination", "filesystem")


def _is_local(url: str) -> bool:
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/"))


@dataclass(frozen=True)
class LakeTarget:
    """Where and how files are written; safe to print (no credentials inside)."""

    bucket_url: str
    layout: str = DEFAULT_LAYOUT

    @property
    def is_local(self) -> bool:
        return _is_local(self.bucket_url)

    def destination(self) -> Destination[Any, Any]:
        return dlt.destinations.filesystem(bucket_url=self.bucket_url, layout=self.layout)

    def display(self) -> str:
        return self.bucket_url


def validate_layout(layout: str) -> None:
    if "{table_name}" not in layout:
        raise ConfigError(
            f"destination layout '{layout}' has no {{table_name}}: every table needs its own folder, "
            f"e.g. {DEFAULT_LAYOUT}"
        )
    before = layout.split("{table_name}", 1)[0]
    leftover = before.replace("{schema_name}", "")
    if "{" in leftover or (leftover.strip("/") and "{schema_name}" not in before):
        raise ConfigError(
            f"destination layout '{layout}': dlt allows only {{schema_name}} before {{table_name}}; "
            f"move the other parts after it, e.g. {DEFAULT_LAYOUT}"
        )
    if not any(p in layout for p in ("{load_id}", "{file_id}")):
        raise ConfigError(
            f"destination layout '{layout}' has neither {{load_id}} nor {{file_id}}: files of later runs "
            f"would overwrite earlier ones; end it with {{load_id}}.{{file_id}}.{{ext}}"
        )


def lake_target(bucket_url: str | None = None) -> LakeTarget:
    """Build the lake from `[destination.filesystem]`, with `./lake` when nothing is configured."""
    configured, _ = lookup_setting("bucket_url", _SECTIONS)
    url = bucket_url or configured or DEFAULT_BUCKET
    if _is_local(url):
        path = url[len("file://"):] if url.startswith("file://") else url
        url = Path(path).expanduser().resolve().as_uri()
    layout, _ = lookup_setting("layout", _SECTIONS)
    layout = layout or DEFAULT_LAYOUT
    validate_layout(layout)
    return LakeTarget(url, layout)
