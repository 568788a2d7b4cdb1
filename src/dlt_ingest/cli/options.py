"""Options shared by the commands, declared once so `ingest` and `ingest-job` never drift apart."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from dlt_ingest.engine.plan import RunOptions


def _plain_flags(params: list[Any]) -> list[Any]:
    """A flag takes no value: its help shows none (typer would show `<bool>`)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class IngestCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class IngestGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


PATTERN_HELP = "a glob on job names (postgres.*), source:NAME or type:TYPE; repeatable"

ConfigOption = Annotated[str | None, typer.Option(
    "--config", "-c", envvar="INGEST_CONFIG", show_default=False,
    help="Path of the workbook (.xlsx). Default: config/ingestion_config.xlsx in the project folder.")]
ProjectDirOption = Annotated[str | None, typer.Option(
    "--project-dir", "-p", envvar="INGEST_PROJECT_DIR", show_default=False,
    help="The project folder (holding .dlt/); relative logs, metadata and lake folders are taken from it. "
         "Default: the nearest folder holding .dlt/ above the workbook (--config), else above the current folder.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks and every library's debug log.")]
SelectOption = Annotated[list[str] | None, typer.Option(help=f"Only jobs matching {PATTERN_HELP}.",
                                                        show_default=False)]
ExcludeOption = Annotated[list[str] | None, typer.Option(help=f"Skip jobs matching {PATTERN_HELP}.",
                                                         show_default=False)]
WorkersOption = Annotated[int | None, typer.Option(help="Jobs run in parallel (1 = one by one). Default: "
                                                        "\\[ingest] workers, else 1.", show_default=False)]
LogDirOption = Annotated[str | None, typer.Option(help="Folder for the run's logs (default logs/ in the project).",
                                                  show_default=False)]
AuditDirOption = Annotated[str | None, typer.Option(
    help="Folder for the audit CSV and reports (default metadata/ in the project).", show_default=False)]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the plan; connect to nothing, write nothing.")]
ResetStateOption = Annotated[bool, typer.Option(
    "--reset-state", help="Forget the stored cursor of the --select'ed jobs; start from last_watermark.")]
CreateContainerOption = Annotated[bool, typer.Option(
    "--create-container", help="Create the lake's Azure container when it does not exist.")]
WriteBackOption = Annotated[bool, typer.Option(
    "--write-back", help="Write last_run_date, last_run_status and last_watermark into the workbook.")]


def run_options(params: dict[str, Any]) -> RunOptions:
    """`RunOptions` from the parsed parameters of the `run` command (also how `ingest-job` builds them)."""
    return RunOptions(
        config_path=params.get("config"), project_dir=params.get("project_dir"),
        select=tuple(params.get("select") or ()), exclude=tuple(params.get("exclude") or ()),
        workers=params.get("workers"), log_dir=params.get("log_dir"), audit_dir=params.get("audit_dir"),
        reset_state=bool(params.get("reset_state")), create_container=bool(params.get("create_container")),
        write_back=bool(params.get("write_back")),
    )
