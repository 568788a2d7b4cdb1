"""`ingest init [DIR]`: a project folder a newcomer can fill in, where nothing runs by accident.

The workbook holds one disabled example row per source type; `.dlt/secrets.toml` is a commented template
(mode 0600, git-ignored) with the settings each example's source needs. A file that already exists is
kept as it is: `init` never overwrites anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dlt.common.typing import is_optional_type

from dlt_ingest.errors import ConfigError
from dlt_ingest.secrets.names import is_secret_field
from dlt_ingest.sources import REGISTRY
from dlt_ingest.workbook import DEFAULT_WORKBOOK
from dlt_ingest.workbook.template import TEMPLATE_ROWS, write_workbook

CONFIG_TOML = """\
# dlt-ingest settings of this project (commit this file). Credentials go to .dlt/secrets.toml.
# Every setting: docs/configuration.md#run-settings-dltconfigtoml

[runtime]
dlthub_telemetry = false
log_level = "WARNING"

[ingest]
# log_dir = "logs"                 # relative folders are taken from this project folder
# audit_dir = "metadata"
# workers = 1                      # jobs in parallel
# heartbeat_seconds = 30           # a progress line every N seconds when the output is no terminal (0 = off)

# With no bucket_url the lake is the folder lake/ in this project. For Azure Data Lake Gen2 see
# docs/destinations.md:
# [destination.filesystem]
# bucket_url = "az://raw-data"
"""

GITIGNORE = """\
# dlt-ingest: credentials and what runs produce
.dlt/secrets.toml
.dlt/pipelines/
lake/
logs/
metadata/
"""

SECRETS_HEADER = """\
# Credentials of the workbook's sources: one [sources.<source_name>] section per source_name of the
# workbook. Keep this file private (mode 0600) and out of git (.gitignore lists it); docs/secrets.md shows
# the other stores (environment variables, Databricks secrets, Azure Key Vault).
# Uncomment and fill in the section of each row you enable.
"""


def secrets_template() -> str:
    """A commented `[sources.<name>]` section per example row, with the settings its source type needs."""
    lines = [SECRETS_HEADER]
    for row in TEMPLATE_ROWS:
        spec = REGISTRY.get(row["source_type"]).credentials_spec
        defaults = spec()
        lines.append(f"\n# [sources.{row['source_name']}]    # source_type {row['source_type']}")
        for name, hint in spec.get_resolvable_fields().items():
            if getattr(defaults, name, None) is None and not is_optional_type(hint):
                value = '"..."' if is_secret_field(name) else f'"<{name}>"'
                lines.append(f"# {name} = {value}")
    return "\n".join(lines) + "\n"


@dataclass
class NewProject:
    """What `init` wrote and what it kept."""

    folder: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def create_project(folder: str | Path) -> NewProject:
    """Create (or complete) a project folder; existing files are kept."""
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{folder} is a file: choose a folder for the new project")
    root.mkdir(parents=True, exist_ok=True)
    project = NewProject(root.resolve())

    def write(name: str, content: str, mode: int = 0o644) -> None:
        path = root / name
        if path.exists():
            project.kept.append(name)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)  # never readable by others
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(path, mode)  # whatever the umask
        project.written.append(name)

    if (root / DEFAULT_WORKBOOK).exists():
        project.kept.append(DEFAULT_WORKBOOK)
    else:
        write_workbook(root / DEFAULT_WORKBOOK, TEMPLATE_ROWS, REGISTRY.known_types())
        project.written.append(DEFAULT_WORKBOOK)
    write(".dlt/config.toml", CONFIG_TOML)
    write(".dlt/secrets.toml", secrets_template(), 0o600)
    write(".gitignore", GITIGNORE)
    return project
