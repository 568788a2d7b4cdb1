"""Oracle through python-oracledb in thin mode (no Oracle client install); the workbook's schema is the owner."""

from __future__ import annotations

from typing import Any

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from sqlalchemy.engine import URL

from dlt_ingest.sources.sql.base import CONNECT_TIMEOUT_SECONDS, DatabaseSource
from dlt_ingest.workbook.model import Job


@configspec
class OracleCredentials(BaseConfiguration):
    host: str = None  # type: ignore[assignment]
    port: int = 1521
    service_name: str | None = None  # give exactly one of service_name and sid
    sid: str | None = None
    username: str = None  # type: ignore[assignment]
    password: str = None  # type: ignore[assignment]
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS


class OracleSource(DatabaseSource[OracleCredentials]):
    type_name = "oracle"
    credentials_spec = OracleCredentials

    def url(self, credentials: OracleCredentials) -> URL:
        query = {"service_name": credentials.service_name} if credentials.service_name else {}
        return URL.create(
            "oracle+oracledb", username=credentials.username, password=credentials.password,
            host=credentials.host, port=int(credentials.port),
            database=None if credentials.service_name else credentials.sid, query=query,
        )

    def engine_options(self, credentials: OracleCredentials) -> dict[str, Any]:
        # thin mode is oracledb's default; tcp_connect_timeout bounds a dead host
        return {"thick_mode": None, "connect_args": {"tcp_connect_timeout": int(credentials.connect_timeout)}}

    def describe_target(self, credentials: OracleCredentials) -> str:
        name = credentials.service_name or credentials.sid or ""
        return f"{credentials.host}/{name}" if name else str(credentials.host)

    def check_credentials(self, credentials: OracleCredentials) -> list[str]:
        if bool(credentials.service_name) == bool(credentials.sid):
            return ["give exactly one of service_name and sid"]
        return []

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        if not job.schema_name:
            return [("schema_name", "is empty but source_type is oracle: name the table's owner (e.g. HR)")]
        return []
