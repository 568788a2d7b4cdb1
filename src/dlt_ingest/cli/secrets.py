"""`ingest secrets push|env|list`: move secrets out of .dlt/secrets.toml and see who holds each one.

No option takes a secret value: values come from .dlt/secrets.toml only.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from rich.table import Table

from dlt_ingest.cli.console import console, err_console, guarded
from dlt_ingest.cli.options import IngestCommand, IngestGroup, ProjectDirOption
from dlt_ingest.engine.connections import check_secrets, list_secrets
from dlt_ingest.engine.plan import RunOptions, load_jobs, workbook_path
from dlt_ingest.secrets.chain import open_project
from dlt_ingest.secrets.check import SecretsReport
from dlt_ingest.secrets.transfer import env_lines, push_to_databricks, push_to_key_vault
from dlt_ingest.workbook import Job

secrets_app = typer.Typer(cls=IngestGroup, no_args_is_help=True,
                          help="Push secrets to Databricks or Key Vault, export them, list who holds each.")


class PushTarget(str, Enum):
    databricks = "databricks"
    keyvault = "keyvault"


class Shell(str, Enum):
    bash = "bash"
    powershell = "powershell"


class EnvForm(str, Enum):
    dlt = "dlt"
    guide = "guide"


def settings_table(report: SecretsReport, title: str, store_names: bool = False) -> Table:
    """Names and the provider holding each; never a value."""
    table = Table(title=title)
    for column in ("source", "setting", "held by", *(("vault name", "environment") if store_names else ())):
        table.add_column(column)
    for row in report.rows:
        extra = (row.vault_name, row.env_names) if store_names else ()
        table.add_row(row.owner, row.path, row.provider, *extra)
    return table


@secrets_app.command("push", cls=IngestCommand)
def push(
    to: Annotated[PushTarget, typer.Option("--to", help="Where to upload .dlt/secrets.toml.")],
    scope: Annotated[str | None, typer.Option(help="Databricks secret scope (default dlt-framework).")] = None,
    vault_url: Annotated[str | None, typer.Option(help="Key Vault URL (default $AZURE_KEY_VAULT_URL).")] = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Upload .dlt/secrets.toml as <source>-<key> secrets; prints the names uploaded, never values."""
    guarded(lambda: open_project(project_dir))
    if to is PushTarget.databricks:
        where, names = guarded(lambda: push_to_databricks(scope))
        target = f"Databricks secret scope {where}"
    else:
        where, names = guarded(lambda: push_to_key_vault(vault_url))
        target = f"Azure Key Vault {where}"
    for name in names:
        console.print(f"uploaded {name}")
    console.print(f"[green]{len(names)} secret(s) uploaded to {target}.[/green]")


@secrets_app.command("env", cls=IngestCommand)
def env(
    shell: Annotated[Shell, typer.Option("--shell", help="Syntax of the lines.")] = Shell.bash,
    form: Annotated[EnvForm, typer.Option("--form", help="dlt: SOURCES__PG__PASSWORD; guide: DLT_PG_PASSWORD.")]
    = EnvForm.dlt,
    project_dir: ProjectDirOption = None,
) -> None:
    """Print .dlt/secrets.toml as environment variables to paste (contains values: never commit them)."""
    guarded(lambda: open_project(project_dir))
    lines = guarded(lambda: env_lines(shell.value, form.value))
    err_console.print("[yellow]The lines below contain secret values: paste them, never commit them.[/yellow]")
    for line in lines:
        typer.echo(line)


@secrets_app.command("list", cls=IngestCommand)
def list_(
    config: Annotated[str | None, typer.Option("--config", "-c", help="Workbook whose sources to list.",
                                               envvar="INGEST_CONFIG")] = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """List every setting of the workbook's sources and the provider holding it (names only, no values)."""
    def build() -> SecretsReport:
        project = open_project(project_dir, config)
        path = workbook_path(RunOptions(config_path=config), project)
        jobs = load_jobs(config, project_dir).jobs if path.exists() else []
        return list_secrets(jobs)

    report = guarded(build)
    console.print(settings_table(report, f"{len(report.rows)} setting(s)", store_names=True))


def print_secrets_check(jobs: list[Job]) -> None:
    """`validate-config --check-secrets`: the table of holders, then exit 2 if anything is missing."""
    report = guarded(lambda: check_secrets(jobs))
    console.print(settings_table(report, "Credentials of the enabled jobs (names only)"))
    guarded(report.raise_for_problems)
    console.print(f"[green]All credentials resolved for {len({r.owner for r in report.rows})} source(s).[/green]")
