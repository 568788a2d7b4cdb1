"""Retries of transient failures against a real PostgreSQL behind a proxy that drops connections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from conftest import Project
from dlt_ingest.engine.retry import RetryPolicy, is_transient
from services.tcp_proxy import TcpProxy


@pytest.fixture(scope="module")
def retry_db(postgres: Any) -> Iterator[str]:
    admin = psycopg2.connect(postgres.url().replace("postgresql+psycopg2", "postgresql"))
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE retry_tests")
    with psycopg2.connect(postgres.url("retry_tests").replace("postgresql+psycopg2", "postgresql")) as connection:
        connection.cursor().execute(
            "CREATE TABLE events AS SELECT g AS id, 'event ' || g AS name FROM generate_series(1, 500) g")
    yield "retry_tests"
    admin.cursor().execute("DROP DATABASE retry_tests WITH (FORCE)")
    admin.close()


def _configure(project: Project, postgres: Any, port: int, password: str | None = None) -> None:
    project.append_config(
        f'[sources.flaky]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "retry_tests"\n'
        f'username = "{postgres.user}"\npassword = "{password or postgres.password}"\nbackend = "pyarrow"',
        "secrets.toml")
    project.append_config("[ingest]\nretry_backoff_seconds = 0.05")
    project.write_workbook([{"source_type": "postgresql", "source_name": "flaky", "table_name": "events",
                             "load_type": "FULL", "enabled": "Y"}])


def _run_behind_proxy(project: Project, postgres: Any, drop_first: int) -> Any:
    """`ingest run` against the real server through a proxy that drops its first connections."""
    proxy = TcpProxy(postgres.host, postgres.port, drop_first=drop_first).start()
    try:
        _configure(project, postgres, proxy.port)
        return project.ingest("run")
    finally:
        proxy.stop()


def test_source_that_fails_twice_then_succeeds_is_recorded_with_three_attempts(
    project: Project, postgres: Any, retry_db: str
) -> None:
    result = _run_behind_proxy(project, postgres, drop_first=2)
    assert result.exit_code == 0, result.output
    [row] = project.audit_rows()
    assert (row["status"], row["attempts"], row["rows_processed"]) == ("SUCCESS", "3", "500")
    log = next((project.path / "logs").glob("main_orchestrator_*.log")).read_text(encoding="utf-8")
    assert log.count("failed (transient)") == 2
    assert "attempt 1/3 failed (transient)" in log and "attempt 2/3 failed (transient)" in log


def test_transient_failures_past_the_limit_fail_the_job_after_three_attempts(
    project: Project, postgres: Any, retry_db: str
) -> None:
    result = _run_behind_proxy(project, postgres, drop_first=1000)
    assert result.exit_code == 1
    [row] = project.audit_rows()
    assert (row["status"], row["attempts"]) == ("FAILED", "3")


def test_authentication_failure_is_not_retried(project: Project, postgres: Any, retry_db: str) -> None:
    _configure(project, postgres, postgres.port, password="wrong-password-canary-9f3a")
    result = project.ingest("run")
    assert result.exit_code == 1
    [row] = project.audit_rows()
    assert (row["status"], row["attempts"]) == ("FAILED", "1")
    assert "wrong-password-canary-9f3a" not in result.output + project.all_output_text()


def test_real_driver_errors_are_classified(postgres: Any, retry_db: str) -> None:
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(host="127.0.0.1", port=1, dbname="x", user="x", password="x", connect_timeout=2)
    assert is_transient(refused.value)
    with pytest.raises(psycopg2.OperationalError) as rejected:
        psycopg2.connect(host=postgres.host, port=postgres.port, dbname="retry_tests", user=postgres.user,
                         password="not-the-password")
    assert not is_transient(rejected.value)
    assert not is_transient(ValueError("invalid literal"))
    assert is_transient(TimeoutError("read timed out"))


def test_backoff_doubles_from_the_configured_base() -> None:
    policy = RetryPolicy(attempts=4, backoff_seconds=2.0)
    assert [policy.delay_before(n) for n in (2, 3, 4)] == [2.0, 4.0, 8.0]
