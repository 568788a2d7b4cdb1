"""One lake, two working folders (two machines): never both loading one job, each row in the lake exactly once.

Every case runs on local disk and on Azurite. "Machine B" is a second project folder with its own
`.dlt/pipelines`, the same settings and the same source; both run `ingest run` in processes of their own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import Project
from dlt_ingest.destinations.filesystem.lease import JobLeases, Owner, lease_name
from dlt_ingest.destinations.filesystem.lease_store import LEASE_FOLDER, LocalLeaseStore
from dlt_ingest.errors import LockError
from dlt_ingest.workbook.model import Job, LoadType
from lake_backends import AzuriteLake, LocalLake
from reading_rule import checksum, lake_rows, orphan_files, read_completed
from test_faults_kill import CRASHING_RUN, FILE_MAX_ITEMS, add_events, run_killed_at, source_events
from test_faults_kill import JOB as EVENTS
from test_interrupts import _start_run, _wait_for_log

BIG_ROWS = 1_000_000
BIG = {"source_type": "sqlite", "source_name": "demo", "table_name": "big", "load_type": "INCREMENTAL",
       "watermark_column": "updated_at", "primary_key": "id", "chunk_size": 2000, "enabled": "Y"}


def _add_big_table(database: Path) -> None:
    """A million rows: loading them takes machine A long enough for machine B to start beside it."""
    with sqlite3.connect(database) as connection:
        connection.executescript(f"""
            CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT, updated_at TIMESTAMP);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BIG_ROWS})
            INSERT INTO big SELECT i, printf('row-%08d', i), datetime('2024-01-01', '+' || i || ' seconds') FROM n;
        """)
HOLDER = (r"host [^,]+, pid (\d+), run (\w+), started [\d\- :]+ UTC\); its lease expires at [\d\- :]+ UTC unless "
          r"that run renews it")


@pytest.fixture(params=["local", "azurite"])
def lake(request: pytest.FixtureRequest, project: Project) -> Any:
    if request.param == "local":
        return LocalLake(project)
    return AzuriteLake(project, request.getfixturevalue("azurite"), "az")


ANOTHER_HOST = subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode == 0 \
    if shutil.which("unshare") else False


def run_killed_on_another_host(project: Project, point: str) -> subprocess.CompletedProcess[str]:
    """`run_killed_at`, in a process that calls its machine `machine-a` (a UTS namespace) where that is allowed:
    its lease is then one of another machine, which only its expiry frees."""
    if not ANOTHER_HOST:
        return run_killed_at(project, point)
    script = f'hostname machine-a && exec "{sys.executable}" "{CRASHING_RUN}" {point}'
    done = subprocess.run(["unshare", "--uts", "sh", "-c", script], cwd=project.path, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"})
    # the shell exec'd python, so the kill is the process's own exit status
    return subprocess.CompletedProcess(done.args, -signal.SIGKILL if done.returncode in (-9, 137) else done.returncode,
                                       done.stdout, done.stderr)


def second_machine(project: Project, lake: Any, settings: str = "") -> Project:
    """Another working folder on the same lake and the same source: the settings, the workbook and the
    database are shared, `.dlt/pipelines`, logs and audit are its own."""
    other = project.path.parent / "machine-b"
    (other / ".dlt").mkdir(parents=True)
    for name in ("config.toml", "secrets.toml"):
        if (project.path / ".dlt" / name).exists():
            shutil.copy(project.path / ".dlt" / name, other / ".dlt" / name)
    shutil.copytree(project.path / "config", other / "config")
    (other / "data").mkdir()
    (other / "data" / "demo.sqlite").symlink_to(project.path / "data" / "demo.sqlite")
    with (other / ".dlt" / "config.toml").open("a", encoding="utf-8") as handle:
        if isinstance(lake, LocalLake):
            handle.write(f'\n[destination.filesystem]\nbucket_url = "{lake.root.as_uri()}"\n')
        handle.write(f"\n{settings}\n")
    return Project(other, CliRunner())


def _finish(process: Any) -> tuple[int, str]:
    output = process.communicate(timeout=600)[0].decode()
    return process.returncode, output


def _leases_left(lake: Any) -> list[str]:
    if isinstance(lake, LocalLake):
        return sorted(p.name for p in (lake.root / LEASE_FOLDER).glob("*.lease"))
    lake.fs.invalidate_cache()
    folder = f"{lake.base}/{LEASE_FOLDER}"
    return sorted(p.rsplit("/", 1)[-1] for p in lake.fs.find(folder)) if lake.fs.exists(folder) else []


def _big_exactly_once(lake: Any) -> None:
    ids = [row[0] for row in lake_rows(read_completed(lake, "demo", "big"), "id")]
    assert len(ids) == len(set(ids)) == BIG_ROWS


@pytest.mark.slow
def test_a_second_machine_waits_for_the_first_and_the_lake_holds_every_row_once(project: Project, lake: Any) -> None:
    _add_big_table(project.path / "data" / "demo.sqlite")
    project.write_workbook([BIG])
    machine_b = second_machine(project, lake, "[ingest]\nlake_lease_wait_seconds = 600\n")
    first = _start_run(project)
    _wait_for_log(project, "Starting job: demo.big", first)
    second = _start_run(machine_b)
    (code_a, output_a), (code_b, output_b) = _finish(first), _finish(second)
    assert (code_a, code_b) == (0, 0), output_a + output_b
    waited = re.search(r"demo\.big: waiting up to 600s for the lake lease held by host [^,]+, pid (\d+), run \w+, "
                       r"started [\d\- :]+ UTC \(expires [\d\- :]+ UTC\)", output_b)
    assert waited and int(waited.group(1)) == first.pid, output_b
    _big_exactly_once(lake)
    assert [r["rows_processed"] for r in project.audit_rows()] == [str(BIG_ROWS)]
    assert [r["rows_processed"] for r in machine_b.audit_rows()] == ["0"]  # it continued from the lake's cursor
    assert _leases_left(lake) == []


@pytest.mark.slow
def test_a_second_machine_that_may_not_wait_refuses_naming_the_holder(project: Project, lake: Any) -> None:
    _add_big_table(project.path / "data" / "demo.sqlite")
    project.write_workbook([BIG, {"source_type": "sqlite", "source_name": "demo", "table_name": "products",
                                  "load_type": "FULL", "enabled": "Y"}])
    machine_b = second_machine(project, lake)
    first = _start_run(project, "--select", "demo.big")
    try:
        _wait_for_log(project, "Starting job: demo.big", first)
        refused = _start_run(machine_b)
        code, output = _finish(refused)
        disjoint = _start_run(machine_b, "--select", "demo.products")  # another job of the lake: no conflict
        disjoint_code, disjoint_output = _finish(disjoint)
    finally:
        code_a, output_a = _finish(first)
    assert code_a == 0, output_a
    assert code == 2, output
    match = re.search(r"Error: job demo\.big is being loaded by another ingest run writing to the same lake \("
                      + HOLDER + r": wait for it to finish, or --exclude 'demo\.big'", output)
    assert match, output
    assert int(match.group(1)) == first.pid
    assert disjoint_code == 0, disjoint_output
    assert not (machine_b.path / "metadata").exists() or all(
        r["job_name"] != "demo.big" for r in machine_b.audit_rows())
    _big_exactly_once(lake)


@pytest.mark.slow
def test_a_killed_machines_lease_expires_and_is_taken_over_and_its_stale_package_is_discarded(
        project: Project, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", FILE_MAX_ITEMS)
    database = project.path / "data" / "demo.sqlite"
    add_events(database, 1, 20_000)
    project.write_workbook([EVENTS])
    monkeypatch.setenv("INGEST__LAKE_LEASE_SECONDS", "4")  # both machines
    machine_b = second_machine(project, lake, "[ingest]\nlake_lease_wait_seconds = 120\n")

    killed = run_killed_on_another_host(project, "load")  # machine A dies half-way through its upload
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert _leases_left(lake) == [lease_name(_job("events"))]
    assert orphan_files(lake, "demo", "events")

    started = time.monotonic()
    code, output = _finish(_start_run(machine_b))
    assert code == 0, output
    assert time.monotonic() - started < 60
    if ANOTHER_HOST:  # it had to wait for the lease to expire
        assert "took over the lake lease of host machine-a" in output and "which expired at" in output, output
    else:  # the same machine: the holder's process is gone, so its lease is taken over at once
        assert "took over the lake lease of host" in output and "whose run has ended" in output, output
    expected, _ = source_events(database)
    loaded = lake_rows(read_completed(lake, "demo", "events"), "id", "payload")
    assert len(loaded) == len(expected) and checksum(loaded) == checksum([tuple(r) for r in expected])
    assert orphan_files(lake, "demo", "events") == []

    again = project.ingest("run")  # machine A is back, with the package it never finished
    assert again.exit_code == 0, again.output
    row = project.audit_rows()[-1]
    assert "another working folder has loaded this job since" in row["warnings"]
    assert row["rows_processed"] == "0"
    loaded = lake_rows(read_completed(lake, "demo", "events"), "id", "payload")
    assert len(loaded) == len(expected) and checksum(loaded) == checksum([tuple(r) for r in expected])
    assert _leases_left(lake) == []


# --- the lease itself ----------------------------------------------------------------------------------------


def _job(table: str) -> Job:
    return Job("sqlite", "demo", table, LoadType.FULL)


def test_a_held_lease_refuses_another_run_and_is_free_after_release(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    first = JobLeases(store, "run-a", seconds=60, wait_seconds=0)
    first.acquire([_job("orders"), _job("customers")])
    with pytest.raises(LockError, match=r"job demo\.customers is being loaded by another ingest run .*run run-a"):
        JobLeases(store, "run-b", seconds=60, wait_seconds=0).acquire([_job("customers")])
    other = JobLeases(store, "run-c", seconds=60, wait_seconds=0)
    other.acquire([_job("products")])  # a disjoint job
    first.release()
    other.release()
    taken = JobLeases(store, "run-b", seconds=60, wait_seconds=0)
    taken.acquire([_job("orders"), _job("customers")])
    line = (tmp_path / LEASE_FOLDER / lease_name(_job("orders"))).read_text()
    owner = Owner.parse(line)
    assert owner is not None and owner.run_id == "run-b" and owner.expires > datetime.now(timezone.utc)
    assert re.fullmatch(r"host=\S+ pid=\d+ run=run-b started=\S+Z expires=\S+Z token=[0-9a-f]{32}\n", line)
    taken.release()
    assert not list((tmp_path / LEASE_FOLDER).glob("*.lease"))


def test_a_refused_run_gives_back_the_leases_it_had_already_taken(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    holder = JobLeases(store, "run-a", seconds=60, wait_seconds=0)
    holder.acquire([_job("orders")])
    with pytest.raises(LockError):
        JobLeases(store, "run-b", seconds=60, wait_seconds=0).acquire([_job("customers"), _job("orders")])
    JobLeases(store, "run-c", seconds=60, wait_seconds=0).acquire([_job("customers")])  # was given back
    holder.release()


def test_a_lease_is_renewed_while_its_run_lasts(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    leases = JobLeases(store, "run-a", seconds=2, wait_seconds=0)
    leases.acquire([_job("orders")])
    first = Owner.parse((tmp_path / LEASE_FOLDER / lease_name(_job("orders"))).read_text())
    try:
        time.sleep(4.5)  # past the first expiry: the renewer pushed it forward
        renewed = Owner.parse((tmp_path / LEASE_FOLDER / lease_name(_job("orders"))).read_text())
        assert first is not None and renewed is not None and renewed.expires > first.expires
        assert renewed.token == first.token
        with pytest.raises(LockError):
            JobLeases(store, "run-b", seconds=60, wait_seconds=0).acquire([_job("orders")])
    finally:
        leases.release()


def test_an_expired_lease_is_taken_over_by_exactly_one_of_many_waiting_runs(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    dead = JobLeases(store, "dead-run", seconds=1, wait_seconds=0)
    dead.acquire([_job("orders")])
    dead._stop.set()  # the process died: nobody renews or releases
    dead.held.clear()
    time.sleep(2.1)
    winners: list[str] = []
    refused: list[str] = []

    def contend(name: str) -> None:
        try:
            JobLeases(LocalLeaseStore(tmp_path), name, seconds=60, wait_seconds=0).acquire([_job("orders")])
            winners.append(name)
        except LockError:
            refused.append(name)

    threads = [threading.Thread(target=contend, args=(f"run-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(refused) == 7
    owner = Owner.parse((tmp_path / LEASE_FOLDER / lease_name(_job("orders"))).read_text())
    assert owner is not None and owner.run_id == winners[0]


def test_a_waiting_run_gets_the_lease_when_the_holder_releases_it(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    holder = JobLeases(store, "run-a", seconds=60, wait_seconds=0)
    holder.acquire([_job("orders")])
    threading.Timer(1.0, holder.release).start()
    waiting = JobLeases(store, "run-b", seconds=60, wait_seconds=30)
    waiting.acquire([_job("orders")])
    assert Owner.parse((tmp_path / LEASE_FOLDER / lease_name(_job("orders"))).read_text()).run_id == "run-b"
    waiting.release()


def test_a_live_lease_of_another_host_is_waited_for_until_it_expires_then_taken_over(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    other = Owner("machine-a", os.getpid(), "run-on-a", now, now + timedelta(seconds=2), "f" * 32)
    assert store.create(lease_name(_job("orders")), other.line()) is not None
    with pytest.raises(LockError, match=r"\(host machine-a, pid \d+, run run-on-a, started .*; its lease expires at"):
        JobLeases(store, "run-b", seconds=60, wait_seconds=0).acquire([_job("orders")])
    waiting = JobLeases(store, "run-b", seconds=60, wait_seconds=30)
    waiting.acquire([_job("orders")])  # waits out the expiry
    assert datetime.now(timezone.utc) >= other.expires
    waiting.release()


def test_a_lease_of_a_finished_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = Owner.for_run("dead-run", 300)
    dead = Owner(dead.host, int(finished.stdout), "dead-run", dead.started, dead.expires, dead.token)
    assert store.create(lease_name(_job("orders")), dead.line()) is not None
    leases = JobLeases(store, "run-b", seconds=60, wait_seconds=0)
    leases.acquire([_job("orders")])  # no wait: the holder's process has exited
    leases.release()
