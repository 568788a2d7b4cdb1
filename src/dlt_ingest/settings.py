"""Run settings of dlt-ingest itself, read from the `[ingest]` section of `.dlt/config.toml`.

Command-line flags win over these; these win over the built-in defaults below.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.secrets.chain import lookup_setting

ON_DATABRICKS = "DATABRICKS_RUNTIME_VERSION"


def running_on_databricks() -> bool:
    return bool(os.environ.get(ON_DATABRICKS))


_TRUE, _FALSE = {"true", "yes", "y", "1", "on"}, {"false", "no", "n", "0", "off"}


def _coerce(name: str, value: Any, default: Any) -> Any:
    """A setting from TOML or an environment variable, as the type of its default, or a located error."""
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, kind.__name__)
        raise ConfigError(f"[ingest] {name} = {value!r} is not {expected}: fix it in .dlt/config.toml "
                          f"(or INGEST__{name.upper()})") from None


@dataclass(frozen=True)
class IngestSettings:
    log_dir: str = "logs"
    audit_dir: str = "metadata"
    working_dir: str = ".dlt/pipelines"
    workers: int = 1
    max_jobs_per_source: int = 2
    retry_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    reconcile_tolerance: int = 0  # rows a source/lake count may differ by before it is a mismatch
    reconcile_action: str = "warn"  # warn, fail or off (see dlt_ingest.reconcile)
    current_tables: bool = False  # keep a deduplicated Delta `<table>_current` beside every job with a primary_key

    @classmethod
    def load(cls, **overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {}
        for name, default in cls().__dict__.items():
            value, _ = lookup_setting(name, ("ingest",), type(default))
            if value is not None:
                values[name] = _coerce(name, value, default)
        if "working_dir" not in values and running_on_databricks():
            values["working_dir"] = str(Path(tempfile.gettempdir()) / "dlt-ingest" / "pipelines")
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
