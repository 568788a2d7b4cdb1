"""A throwaway PostgreSQL 15 cluster from the machine's server binaries.

`initdb` refuses to run as root, so as root the cluster is owned by and run as `nobody`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def find_pg_bin() -> Path:
    for candidate in PG_BIN_CANDIDATES:
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: install the postgresql-15 package")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path
    bin_dir: Path
    run_as: list[str]

    def url(self, database: str | None = None) -> str:
        from sqlalchemy.engine import URL

        return URL.create("postgresql+psycopg2", username=self.user, password=self.password, host=self.host,
                          port=self.port, database=database or self.database).render_as_string(hide_password=False)

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast", "-w")

    def start(self) -> None:
        self._ctl("start", "-w", "-l", str(self.data_dir / "server.log"),
                  "-o", f"-p {self.port} -k {self.data_dir} -h 127.0.0.1")

    def cleanup(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres(password: str = "pg-test-Pa$$:@/%#") -> PostgresServer:
    bin_dir = find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix="dlt-ingest-pg-"))
    data_dir = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "nobody", "--"]
        os.chmod(root, 0o777)
    pwfile = root / "pw"
    pwfile.write_text(password)
    os.chmod(pwfile, 0o644)
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "ingest", "-A", "scram-sha-256",
                    f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    conf = data_dir / "postgresql.conf"
    with conf.open("a") as handle:
        handle.write("\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n")
    server = PostgresServer("127.0.0.1", free_port(), "ingest", password, "postgres", data_dir, bin_dir, run_as)
    server.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((server.host, server.port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not start; see {data_dir / 'server.log'}")


def _has_c_utf8() -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.lower()
    except FileNotFoundError:
        return False
    return "c.utf8" in out or "c.utf-8" in out
