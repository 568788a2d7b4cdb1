"""The source dies mid-extract: a PostgreSQL backend terminated while a large table streams, an HTTP API that
drops the connection in the middle of a page. The job fails with one clear line, other jobs still load, the
watermark stays, and the next run loads every row exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import LocalLake
from reading_rule import checksum, lake_rows, read_completed
from services.dropping_api import DroppingApi

BIG_ROWS = 300_000
FIRST_ROWS = 1_000
CUSTOMERS = next(r for r in DEMO_ROWS if r["table_name"] == "customers")


def _dsn(postgres: Any, database: str) -> str:
    return postgres.url(database).replace("postgresql+psycopg2", "postgresql")


@pytest.fixture
def big_db(postgres: Any) -> Iterator[str]:
    admin = psycopg2.connect(_dsn(postgres, postgres.database))
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE faults_source")
    yield "faults_source"
    admin.cursor().execute("DROP DATABASE faults_source WITH (FORCE)")
    admin.close()


def _fill_events(postgres: Any, first: int, last: int) -> None:
    with psycopg2.connect(_dsn(postgres, "faults_source")) as connection:
        connection.cursor().execute(
            "CREATE TABLE IF NOT EXISTS events (id integer PRIMARY KEY, payload text, updated_at timestamp);"
            "INSERT INTO events SELECT g, 'event ' || g, timestamp '2024-01-01' + g * interval '1 second' "
            f"FROM generate_series({first}, {last}) g")


def _source_events(postgres: Any) -> list[tuple[Any, ...]]:
    with psycopg2.connect(_dsn(postgres, "faults_source")) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id, payload FROM events")
        return list(cursor.fetchall())


class BackendKiller(threading.Thread):
    """Waits until the extraction query's PostgreSQL backend has sent a few MB (its `/proc/<pid>/io` write
    counter: the stream is under way, not over), then terminates it with pg_terminate_backend, as a DBA or
    a failover would."""

    def __init__(self, postgres: Any, sent_bytes: int = 1_000_000) -> None:
        super().__init__(daemon=True)
        self.dsn = _dsn(postgres, postgres.database)
        self.sent_bytes = sent_bytes
        self.terminated: list[int] = []
        self.done = threading.Event()

    @staticmethod
    def _written(pid: int) -> int:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
        return 0

    def run(self) -> None:
        connection = psycopg2.connect(self.dsn)
        connection.autocommit = True
        cursor = connection.cursor()
        started: dict[int, int] = {}
        deadline = time.monotonic() + 60
        while not self.done.is_set() and time.monotonic() < deadline and not self.terminated:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = 'faults_source' "
                           "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                           "AND (query ILIKE '%events%' OR query ILIKE 'FETCH%')")  # server-side cursor
            for (pid,) in cursor.fetchall():
                written = self._written(pid)
                if written - started.setdefault(pid, written) >= self.sent_bytes:
                    cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    self.terminated.append(pid)
            time.sleep(0.002)
        connection.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["auto", "pyarrow"])
def test_backend_terminated_mid_stream_fails_the_job_only_and_the_next_run_loads_everything_once(
        project: Project, postgres: Any, big_db: str, backend: str) -> None:
    _fill_events(postgres, 1, FIRST_ROWS)
    project.append_config(
        f'[sources.pg]\nhost = "{postgres.host}"\nport = {postgres.port}\ndatabase = "faults_source"\n'
        f'username = "{postgres.user}"\npassword = "{postgres.password}"\nbackend = "{backend}"', "secrets.toml")
    project.append_config("[ingest]\nretry_attempts = 1")  # a retry would simply succeed; we want the failure
    project.write_workbook([
        {"source_type": "postgresql", "source_name": "pg", "table_name": "events", "load_type": "INCREMENTAL",
         "watermark_column": "updated_at", "primary_key": "id", "chunk_size": 500, "enabled": "Y"},
        CUSTOMERS,
    ])
    first = project.ingest("run", "--select", "pg.events")
    assert first.exit_code == 0, first.output
    _fill_events(postgres, FIRST_ROWS + 1, BIG_ROWS)

    killer = BackendKiller(postgres)
    killer.start()
    broken = project.ingest("run")
    killer.done.set()
    killer.join()
    assert killer.terminated, "the extraction query was never seen streaming"
    assert broken.exit_code == 1, broken.output
    rows = {r["job_name"]: r for r in project.audit_rows()[1:]}
    assert rows["demo.customers"]["status"] == "SUCCESS"
    failed = rows["pg.events"]
    assert failed["status"] == "FAILED"
    reason = failed["error_message"]
    assert reason.startswith("cannot read from 127.0.0.1/faults_source: "), reason
    assert ("terminating connection due to administrator command" in reason  # ADBC
            or "server closed the connection unexpectedly" in reason)  # psycopg2
    assert "\n" not in failed["error_message"] and "Traceback" not in broken.output
    assert failed["watermark_end"] == ""
    lake = LocalLake(project)
    assert len(lake_rows(read_completed(lake, "pg", "events"), "id")) == FIRST_ROWS

    again = project.ingest("run", "--select", "pg.events")
    assert again.exit_code == 0, again.output
    last = project.audit_rows()[-1]
    assert last["watermark_start"] == project.audit_rows()[0]["watermark_end"]  # the failure moved nothing
    assert int(last["rows_processed"]) == BIG_ROWS - FIRST_ROWS
    loaded = lake_rows(read_completed(lake, "pg", "events"), "id", "payload")
    assert len(loaded) == len({r[0] for r in loaded}) == BIG_ROWS
    assert checksum(loaded) == checksum(_source_events(postgres))


# --- HTTP API ----------------------------------------------------------------------------------------------


@pytest.fixture
def dropping_api() -> Iterator[DroppingApi]:
    api = DroppingApi(records=9, per_page=2).start()
    yield api
    api.stop()


API_ROW = {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
           "load_type": "INCREMENTAL", "watermark_column": "updated_at", "last_watermark": "2026-01-01",
           "cursor_param": "updated_since", "primary_key": "id", "data_selector": "data", "enabled": "Y",
           "paginator": '{"type": "page_number", "base_page": 1, "total_path": "total_pages"}'}


def test_api_dropping_the_connection_mid_page_fails_the_job_and_the_next_run_loads_everything_once(
        project: Project, dropping_api: DroppingApi) -> None:
    project.append_config(f'[sources.shop]\nbase_url = "{dropping_api.url}/api"\nmax_attempts = 2\n'
                          "backoff_factor = 0.01\nmax_retry_delay = 1\n", "secrets.toml")
    project.write_workbook([API_ROW, CUSTOMERS])
    dropping_api.drop_page = 2
    broken = project.ingest("run")
    assert broken.exit_code == 1, broken.output
    assert dropping_api.dropped >= 1
    rows = {r["job_name"]: r for r in project.audit_rows()}
    assert rows["demo.customers"]["status"] == "SUCCESS"
    failed = rows["shop.items"]
    assert failed["status"] == "FAILED" and failed["watermark_end"] == ""
    reason = failed["error_message"]
    assert reason.startswith(f"the connection to {dropping_api.url}/api broke off in the middle of a response "
                             "after 2 attempt(s) (ChunkedEncodingError: "), reason
    assert "\n" not in reason
    assert "Traceback" not in broken.output
    lake = LocalLake(project)
    assert read_completed(lake, "shop", "items") is None  # nothing of the broken run is readable

    dropping_api.drop_page = None
    again = project.ingest("run", "--select", "shop.items")
    assert again.exit_code == 0, again.output
    assert project.audit_rows()[-1]["watermark_start"] == "2026-01-01"  # the failure moved nothing
    loaded = lake_rows(read_completed(lake, "shop", "items"), "id", "name")
    assert sorted(loaded) == sorted((r["id"], r["name"]) for r in dropping_api.records)
    assert dropping_api.cursors_sent() == ["2026-01-01", "2026-01-01"]
