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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class PostgresDatabase:
    """One database on the shared test server, private to a test module."""

    server: PostgresServer
    database_name: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def user(self) -> str:
        return self.server.user

    @property
    def password(self) -> str:
        return self.server.password

    def url(self) -> str:
        return self.server.url(self.database_name)

    def connect(self) -> Any:
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=self.database_name)

    def execute(self, *statements: str) -> None:
        with self.connect() as connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def secrets_toml(self, source: str, **extra: str) -> str:
        """The `[sources.<source>]` section that points a job at this database."""
        lines = [f"[sources.{source}]", f'host = "{self.host}"', f"port = {self.port}",
                 f'database = "{self.database_name}"', f'username = "{self.user}"', f'password = "{self.password}"']
        lines += [f'{key} = "{value}"' for key, value in extra.items()]
        return "\n".join(lines)


@contextlib.contextmanager
def fresh_database(server: PostgresServer, prefix: str) -> Iterator[PostgresDatabase]:
    """Create a uniquely named database, yield it, drop it (even with connections still open)."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             dbname=server.database)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield PostgresDatabase(server, name)
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()
