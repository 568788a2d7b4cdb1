"""A PostgreSQL login, built once from the job's credentials and handed to each driver in its own form:
SQLAlchemy's URL (psycopg2), a libpq URI (ADBC) and a DuckDB secret plus libpq options (the scanner)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.engine import URL

SESSION_OPTIONS = "-c TimeZone=UTC -c IntervalStyle=iso_8601 -c DateStyle=ISO -c extra_float_digits=3"
"""Every read session: the server's text of a value must not depend on the server's or the user's settings."""


@dataclass(frozen=True)
class PgLogin:
    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    options: dict[str, str] = field(default_factory=dict)  # libpq options beyond the login (sslmode, ...)
    connect_timeout: int | None = None

    @classmethod
    def from_credentials(cls, credentials: Any) -> PgLogin:
        options = {"sslmode": str(credentials.sslmode)} if credentials.sslmode else {}
        options["options"] = SESSION_OPTIONS
        return cls(str(credentials.host), int(credentials.port), str(credentials.database),
                   str(credentials.username), str(credentials.password), options,
                   int(credentials.connect_timeout) if credentials.connect_timeout else None)

    def sqlalchemy_url(self) -> URL:
        return URL.create("postgresql+psycopg2", username=self.username, password=self.password, host=self.host,
                          port=self.port, database=self.database, query=self.options)

    def libpq_uri(self) -> str:
        """For ADBC's driver only: it holds the password, never print it. libpq decodes `%20`, not `+`."""
        query = dict(self.options)
        if self.connect_timeout:
            query["connect_timeout"] = str(self.connect_timeout)
        url = URL.create("postgresql", username=self.username, password=self.password, host=self.host,
                         port=self.port, database=self.database)
        return url.render_as_string(hide_password=False) + "?" + urlencode(query, quote_via=quote)

    def duckdb_secret(self, name: str) -> str:
        """A DuckDB secret holds the login, so no DuckDB message can repeat the password."""
        parts = {"HOST": self.host, "PORT": self.port, "DATABASE": self.database, "USER": self.username,
                 "PASSWORD": self.password}
        settings = ", ".join(f"{key} {sql_literal(value)}" for key, value in parts.items() if value is not None)
        return f"CREATE TEMPORARY SECRET {name} (TYPE postgres, {settings})"

    def conninfo(self, **extra: str) -> str:
        """libpq options beyond the login (sslmode, connect_timeout, `extra`), as a connection string."""
        options = {**self.options, **extra}
        if self.connect_timeout:
            options["connect_timeout"] = str(self.connect_timeout)
        return " ".join(f"{key}={_conninfo_value(value)}" for key, value in options.items())


def sql_literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _conninfo_value(value: str) -> str:
    """A libpq connection-string value: single-quoted, with backslash escapes (not SQL's doubled quote)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
