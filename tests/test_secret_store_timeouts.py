"""A configured secret store that cannot be reached fails within seconds, in one line naming the store and
its host: a server that accepts connections and never answers, and a port where nothing listens. The real
SDK clients (databricks-sdk, azure-keyvault-secrets) talk to real sockets on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project
from dlt_ingest.secrets.chain import use_project
from dlt_ingest.secrets.keyvault import use_key_vault_client_options
from dlt_ingest.workbook.template import DEMO_ROWS
from services.keyvault import FixedTokenCredential
from services.postgres import free_port

BOUND_SECONDS = 15


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def _store(monkeypatch: pytest.MonkeyPatch, store: str, port: int) -> str:
    if store == "databricks":
        monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test-token")
        return f"Databricks secrets (scope dlt-framework) at http://127.0.0.1:{port} failed while reading"
    monkeypatch.setenv("AZURE_KEY_VAULT_URL", f"https://127.0.0.1:{port}/")
    use_key_vault_client_options(FixedTokenCredential())
    return f"Azure Key Vault https://127.0.0.1:{port}/ failed while reading"


@pytest.fixture
def key_vault_options_undone() -> Iterator[None]:
    yield
    use_key_vault_client_options(None)


@pytest.mark.parametrize("store", ["databricks", "keyvault"])
@pytest.mark.parametrize("listening", [True, False], ids=["never-answers", "nothing-listens"])
def test_an_unreachable_store_fails_check_secrets_in_one_line_within_seconds(
        project: Project, monkeypatch: pytest.MonkeyPatch, silent_port: int, key_vault_options_undone: None,
        store: str, listening: bool) -> None:
    port = silent_port if listening else free_port()
    names = _store(monkeypatch, store, port)
    project.append_config("[ingest]\nsecret_store_timeout_seconds = 3")
    use_project(str(project.path))
    project.write_workbook(DEMO_ROWS[1:2])
    started = time.monotonic()
    result = project.ingest("validate-config", "--check-secrets")
    assert time.monotonic() - started < BOUND_SECONDS
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"Error: {names} 'demo-database': "), errors
    if listening:
        assert errors[0].endswith("no answer within 3 s -- check " + (
            "DATABRICKS_HOST (or the profile) and the network." if store == "databricks"
            else "AZURE_KEY_VAULT_URL and the network."))


def test_a_silent_databricks_host_fails_the_real_command_within_15_seconds_by_default(
        project: Project, silent_port: int) -> None:
    """The newcomer's case, as a user runs it: the installed command, the default budget, nothing else."""
    project.write_workbook(DEMO_ROWS[1:2])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "AZURE_"))}
    env.update(DATABRICKS_HOST=f"http://127.0.0.1:{silent_port}", DATABRICKS_TOKEN="dapi-test-token")
    ingest = Path(sys.executable).with_name("ingest")
    started = time.monotonic()
    done = subprocess.run([str(ingest), "validate-config", "--check-secrets"], cwd=project.path, env=env,
                          capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Error: Databricks secrets (scope dlt-framework) at http://127.0.0.1:{silent_port} failed while reading "
        "'demo-database': no answer within 10 s -- check DATABRICKS_HOST (or the profile) and the network."]
    assert elapsed < BOUND_SECONDS + 5, elapsed  # 10 s of waiting plus the interpreter's start on a busy machine
