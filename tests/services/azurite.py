"""Azurite, the Azure Storage emulator from npm (installed by `scripts/test` into node_modules/).

It speaks plain http, while dlt's Azure credentials always build an https URL: the lake reaches it
through the destination's `kwargs.connection_string`, which adlfs prefers over everything else.
Azurite has no dfs endpoint, so abfss:// URLs see a flat namespace there; that is fine for these tests.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.postgres import free_port

REPO = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret)
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    host: str
    port: int
    location: Path
    process: subprocess.Popen[bytes]
    account: str = ACCOUNT
    key: str = ACCOUNT_KEY

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account}"

    def connection_string(self, key: str | None = None) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={key or self.key};"
                f"BlobEndpoint={self.blob_endpoint};")

    def destination_config(self, bucket_url: str, key: str | None = None) -> str:
        """`[destination.filesystem]` text for secrets.toml: dlt's credentials plus the emulator connection."""
        key = key or self.key
        return (f'[destination.filesystem]\nbucket_url = "{bucket_url}"\n\n'
                f'[destination.filesystem.credentials]\nazure_storage_account_name = "{self.account}"\n'
                f'azure_storage_account_key = "{key}"\n\n'
                f'[destination.filesystem.kwargs]\nconnection_string = "{self.connection_string(key)}"\n')

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def create_container(self, name: str) -> None:
        self.service().create_container(name)

    def has_container(self, name: str) -> bool:
        return bool(self.service().get_container_client(name).exists())

    def filesystem(self) -> Any:
        """An adlfs filesystem on the emulator, for reading the lake back."""
        from adlfs import AzureBlobFileSystem

        return AzureBlobFileSystem(connection_string=self.connection_string())

    def cleanup(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.location, ignore_errors=True)


def start_azurite() -> Azurite:
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"{AZURITE_BIN} not found: run `npm ci --no-audit --no-fund` in {REPO} "
                           f"(./scripts/test does it)")
    location = Path(tempfile.mkdtemp(prefix="dlt-ingest-azurite-"))
    port = free_port()
    log = (location / "azurite.log").open("wb")
    process = subprocess.Popen(
        [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location),
         "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    server = Azurite("127.0.0.1", port, location, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection((server.host, port), timeout=1):
            return server
        time.sleep(0.1)
    server.cleanup()
    raise RuntimeError(f"Azurite did not start on port {port}; see {location / 'azurite.log'}")
