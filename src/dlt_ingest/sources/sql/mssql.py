"""SQL Server through ODBC Driver 18 (or 17): pyodbc with a system driver, or mssql-python with its own.

`mssql-python` (Microsoft's driver, on PyPI) ships ODBC Driver 18 inside the `mssql-python-odbc` wheel, so
SQL Server works with no system package; pyodbc needs unixODBC and Microsoft's msodbcsql package.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, TypeVar

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.engine import URL

from dlt_ingest.errors import SourceError
from dlt_ingest.sources.sql.base import CONNECT_TIMEOUT_SECONDS, DatabaseSource

ODBC_18 = "ODBC Driver 18 for SQL Server"
ODBC_17 = "ODBC Driver 17 for SQL Server"
ODBC_DRIVERS = (ODBC_18, ODBC_17)
PYTHON_DRIVERS = ("auto", "pyodbc", "mssql-python")


@configspec
class MssqlCredentials(BaseConfiguration):
    host: str = None  # type: ignore[assignment]
    port: int | None = 1433  # ignored when instance is set (the SQL Browser service finds the port)
    instance: str | None = None  # named instance, e.g. SQLEXPRESS
    database: str = None  # type: ignore[assignment]
    username: str | None = None
    password: str | None = None
    trusted_connection: bool = False  # Windows/Kerberos login instead of username/password
    driver: str = ODBC_18
    python_driver: str = "auto"  # auto, pyodbc, mssql-python
    encrypt: bool = True
    trust_server_certificate: bool = False
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS


TSqlServer = TypeVar("TSqlServer", bound=MssqlCredentials)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def installed_odbc_drivers() -> list[str]:
    """ODBC drivers registered with unixODBC/Windows, or [] when pyodbc or unixODBC is missing."""
    try:
        import pyodbc
    except ImportError:
        return []
    return list(pyodbc.drivers())


def has_mssql_python() -> bool:
    return importlib.util.find_spec("mssql_python") is not None


def pick_python_driver(credentials: MssqlCredentials, odbc_drivers: Callable[[], list[str]] = installed_odbc_drivers,
                       mssql_python: Callable[[], bool] = has_mssql_python) -> str:
    """pyodbc when the named ODBC driver is registered, else mssql-python (bundles Driver 18)."""
    wanted = str(credentials.python_driver)
    if wanted != "auto":
        return wanted
    if credentials.driver in odbc_drivers():
        return "pyodbc"
    if credentials.driver == ODBC_18 and mssql_python():
        return "mssql-python"
    raise SourceError(
        f"'{credentials.driver}' is not available: install the mssql extra (pip install 'dlt-ingest[mssql]', "
        f"which brings mssql-python with ODBC Driver 18) or Microsoft's msodbcsql package with unixODBC for pyodbc."
    )


class SqlServerFamily(DatabaseSource[TSqlServer]):
    """URL building shared by SQL Server and Azure SQL."""

    def server(self, credentials: TSqlServer) -> tuple[str, int | None]:
        if credentials.instance:
            return f"{credentials.host}\\{credentials.instance}", None
        return str(credentials.host), int(credentials.port) if credentials.port else None

    def odbc_options(self, credentials: TSqlServer) -> dict[str, str]:
        options = {"Encrypt": _yes(credentials.encrypt),
                   "TrustServerCertificate": _yes(credentials.trust_server_certificate)}
        if credentials.trusted_connection:
            options["Trusted_Connection"] = "yes"
        return options

    def url(self, credentials: TSqlServer, python_driver: str | None = None) -> URL:
        chosen = python_driver or pick_python_driver(credentials)
        host, port = self.server(credentials)
        query = self.odbc_options(credentials)
        if chosen == "pyodbc":  # SQLAlchemy's pyodbc dialect adds Trusted_Connection itself without a username
            query = {"driver": credentials.driver, **{k: v for k, v in query.items() if k != "Trusted_Connection"}}
        login = {} if credentials.trusted_connection else {
            "username": credentials.username, "password": credentials.password}
        return URL.create("mssql+pyodbc" if chosen == "pyodbc" else "mssql+mssqlpython",
                          host=host, port=port, database=credentials.database, query=query, **login)

    def engine_options(self, credentials: TSqlServer) -> dict[str, Any]:
        return {"connect_args": {"timeout": int(credentials.connect_timeout)}}

    def describe_target(self, credentials: TSqlServer) -> str:
        host, _ = self.server(credentials)
        return f"{host}/{credentials.database}"

    def check_credentials(self, credentials: TSqlServer) -> list[str]:
        problems = []
        if credentials.driver not in ODBC_DRIVERS:
            problems.append(f"driver '{credentials.driver}' is not one of {', '.join(ODBC_DRIVERS)}")
        if credentials.python_driver not in PYTHON_DRIVERS:
            problems.append(f"python_driver '{credentials.python_driver}' is not one of {', '.join(PYTHON_DRIVERS)}")
        if credentials.python_driver == "mssql-python" and credentials.driver != ODBC_18:
            problems.append(f"python_driver mssql-python always uses {ODBC_18}")
        return problems + self.check_login(credentials)

    def check_login(self, credentials: TSqlServer) -> list[str]:
        if credentials.trusted_connection:
            return []
        if not (credentials.username and credentials.password):
            return ["give username and password, or set trusted_connection = true"]
        return []


class MssqlSource(SqlServerFamily[MssqlCredentials]):
    type_name = "mssql"
    credentials_spec = MssqlCredentials
