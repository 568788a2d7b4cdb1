"""An Azurite of a test's own that can be stopped and started again on the same port and data folder.

The session's Azurite is shared by many tests and must never be stopped; this one is for outage tests.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time

from services.azurite import AZURITE_BIN, Azurite


def stop(server: Azurite) -> None:
    """Stop the emulator; its data folder stays (a storage outage, not a data loss)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def restart(server: Azurite) -> None:
    """Start the emulator again on the same port with the same data folder."""
    log = (server.location / "azurite.log").open("ab")
    server.process = subprocess.Popen(
        [str(AZURITE_BIN), "--blobHost", server.host, "--blobPort", str(server.port), "--location",
         str(server.location), "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((server.host, server.port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"Azurite did not restart on port {server.port}; see {server.location / 'azurite.log'}")
