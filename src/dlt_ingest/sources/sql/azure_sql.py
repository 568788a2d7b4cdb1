"""Azure SQL Database: SQL Server's driver with encryption always on, plus Microsoft Entra (Azure AD) logins."""

from __future__ import annotations

from dlt.common.configuration import configspec

from dlt_ingest.sources.sql.mssql import MssqlCredentials, SqlServerFamily

AUTHENTICATIONS = ("ActiveDirectoryPassword", "ActiveDirectoryServicePrincipal", "ActiveDirectoryDefault")


@configspec
class AzureSqlCredentials(MssqlCredentials):
    # SQL login when empty; for ActiveDirectoryServicePrincipal username is the client id and password the secret
    authentication: str | None = None


class AzureSqlSource(SqlServerFamily[AzureSqlCredentials]):
    type_name = "azure_sql"
    credentials_spec = AzureSqlCredentials

    def odbc_options(self, credentials: AzureSqlCredentials) -> dict[str, str]:
        options = {"Encrypt": "yes", "TrustServerCertificate": "no"}
        if credentials.authentication:
            options["Authentication"] = credentials.authentication
        return options

    def check_login(self, credentials: AzureSqlCredentials) -> list[str]:
        problems = []
        if not credentials.encrypt or credentials.trust_server_certificate:
            problems.append("Azure SQL always encrypts and checks the server certificate: remove encrypt and "
                            "trust_server_certificate")
        if credentials.trusted_connection:
            problems.append("trusted_connection does not exist on Azure SQL: use authentication instead")
        auth = credentials.authentication
        if auth and auth not in AUTHENTICATIONS:
            problems.append(f"authentication '{auth}' is not one of {', '.join(AUTHENTICATIONS)}")
        elif auth == "ActiveDirectoryDefault":
            if credentials.username or credentials.password:
                problems.append("ActiveDirectoryDefault takes no username/password (it uses the machine's identity)")
        elif not (credentials.username and credentials.password):
            problems.append("give username and password (for ActiveDirectoryServicePrincipal: client id and secret)")
        return problems
