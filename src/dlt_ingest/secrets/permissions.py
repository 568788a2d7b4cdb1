"""A secrets file others can read is a leak waiting to happen: say so, with the fix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext


def secrets_file_warnings() -> list[str]:
    """One warning per `secrets.toml` (project and global) that group or others may read."""
    if os.name != "posix":
        return []
    context = Container()[PluggableRunContext].context
    warnings = []
    for folder in dict.fromkeys((context.settings_dir, context.global_dir)):
        path = Path(folder) / "secrets.toml"
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(f"{path} can be read by other users (mode {stat.filemode(mode)}): run chmod 600 {path}")
    return warnings
