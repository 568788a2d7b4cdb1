"""A throwaway MariaDB server from the machine's Debian packages (mariadb-server-core, mariadb-client-core).

`mariadb-install-db --no-defaults` initialises a temp data dir (creating the `ingest` user in the same
bootstrap run), then `mariadbd --no-defaults` serves it on a free 127.0.0.1 port with its socket, pid file
and log inside the temp dir. `--no-defaults` matters: /etc/mysql/my.cnf points every client and server at
/run/mysqld/mysqld.sock, which does not exist here. As root the server runs as root (`--user=root`, which
mariadbd otherwise refuses); `run_as="nobody"` chowns the temp dir and lets mariadbd drop to `nobody`.

Named time zones (`SET time_zone = 'Europe/Berlin'`) need the mysql.time_zone* tables:
`load_time_zones=True` fills them from /usr/share/zoneinfo with mariadb-tzinfo-to-sql (package
mariadb-client) during bootstrap; without the tool only offsets such as '+02:00' work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARIADBD_CANDIDATES = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
INSTALL_DB_CANDIDATES = ("/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db")
TZINFO_TO_SQL_CANDIDATES = ("/usr/bin/mariadb-tzinfo-to-sql", "/usr/bin/mysql_tzinfo_to_sql")
ZONEINFO = Path("/usr/share/zoneinfo")

# Fast, disposable and small: nothing here is meant to survive a crash.
FAST_SETTINGS = (
    "--skip-log-bin",
    "--skip-name-resolve",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-flush-method=nosync",
    "--innodb-doublewrite=0",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--innodb-log-buffer-size=2M",
    "--key-buffer-size=8M",
    "--aria-pagecache-buffer-size=8M",
    "--sync-frm=0",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--max-connections=200",
)


def _find(candidates: tuple[str, ...], package: str) -> str:
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    for candidate in candidates:
        found = shutil.which(Path(candidate).name)
        if found:
            return found
    raise RuntimeError(f"{Path(candidates[0]).name} not found: install the {package} package")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sql_string(value: str) -> str:
    """A MariaDB string literal (default sql_mode: backslash is an escape character)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in escaped) + '"'


@dataclass
class MariaDbServer:
    host: str
    port: int
    user: str
    password: str
    root_dir: Path
    mariadbd: str
    run_as: str  # "root", "nobody" or "" (not root: run as the current user)
    database: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root_dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.root_dir / "mysqld.sock"

    @property
    def log_path(self) -> Path:
        return self.root_dir / "server.log"

    def sa_url(self, database: str | None = None) -> Any:
        from sqlalchemy.engine import URL

        return URL.create("mysql+pymysql", username=self.user, password=self.password, host=self.host,
                          port=self.port, database=database or self.database, query={"charset": "utf8mb4"})

    def url(self, database: str | None = None) -> str:
        return str(self.sa_url(database).render_as_string(hide_password=False))

    def connect(self, database: str | None = None, **kwargs: Any) -> Any:
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               database=database or self.database, charset="utf8mb4", **kwargs)

    def server_args(self) -> list[str]:
        args = [self.mariadbd, "--no-defaults", f"--datadir={self.data_dir}", f"--socket={self.socket_path}",
                f"--pid-file={self.root_dir / 'mariadbd.pid'}", f"--log-error={self.log_path}",
                f"--tmpdir={self.root_dir / 'tmp'}", f"--secure-file-priv={self.root_dir / 'files'}",
                "--bind-address=127.0.0.1", f"--port={self.port}", *FAST_SETTINGS]
        if self.run_as:
            args.append(f"--user={self.run_as}")
        return args

    def start(self, timeout: float = 30) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(self.server_args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.connect(connect_timeout=2).close()
                return
            except Exception as error:  # not up yet: refused, handshake, auth
                last_error = error
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"MariaDB did not start ({last_error!r}); see {self.log_path}:\n{self._log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        """A clean shutdown (SIGTERM), then SIGKILL if the server hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Crash it (SIGKILL): InnoDB recovers on the next start()."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root_dir, ignore_errors=True)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _bootstrap_sql(user: str, password: str, load_time_zones: bool, root: Path) -> Path:
    pw = sql_string(password)
    statements = ["FLUSH PRIVILEGES;"]  # bootstrap runs with --skip-grant-tables; this loads them
    for host in ("%", "localhost"):  # 'localhost' = the unix socket
        account = f"{sql_string(user)}@{sql_string(host)}"
        statements += [f"CREATE USER {account} IDENTIFIED BY {pw};",
                       f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;"]
    sql = "\n".join(statements) + "\n"
    if load_time_zones:
        tzinfo = _find(TZINFO_TO_SQL_CANDIDATES, "mariadb-client")
        zones = subprocess.run([tzinfo, str(ZONEINFO)], check=True, capture_output=True).stdout.decode()
        sql += "USE mysql;\n" + zones
    path = root / "bootstrap.sql"
    path.write_text(sql, encoding="utf-8")
    return path


def start_mariadb(password: str = "my-test-Pa$$:@/%#", user: str = "ingest", run_as: str = "root",
                  load_time_zones: bool | None = None) -> MariaDbServer:
    """Initialise and start a server. `load_time_zones=None`: load them when mariadb-tzinfo-to-sql exists."""
    mariadbd = _find(MARIADBD_CANDIDATES, "mariadb-server-core")
    install_db = _find(INSTALL_DB_CANDIDATES, "mariadb-server-core")
    _find(("/usr/bin/my_print_defaults",), "mariadb-client-core")  # mariadb-install-db needs it
    if load_time_zones is None:
        load_time_zones = ZONEINFO.is_dir() and any(os.access(c, os.X_OK) for c in TZINFO_TO_SQL_CANDIDATES)
    if os.geteuid() != 0:
        run_as = ""
    root = Path(tempfile.mkdtemp(prefix="dlt-ingest-mariadb-"))
    for sub in ("tmp", "files"):
        (root / sub).mkdir()
    server = MariaDbServer("127.0.0.1", free_port(), user, password, root, mariadbd, run_as)
    try:
        extra = _bootstrap_sql(user, password, load_time_zones, root)
        if run_as == "nobody":
            os.chmod(root, 0o755)
            for path in (root, *root.rglob("*")):
                os.chown(path, 65534, 65534)
        # root@localhost keeps unix_socket authentication (no password); no anonymous users, no test db.
        args = [install_db, "--no-defaults", f"--datadir={server.data_dir}", "--skip-test-db",
                "--auth-root-authentication-method=socket", f"--extra-file={extra}",
                f"--tmpdir={root / 'tmp'}", *FAST_SETTINGS]
        if run_as:
            args.append(f"--user={run_as}")
        done = subprocess.run(args, cwd=root, stdin=subprocess.DEVNULL, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{done.stdout.decode(errors='replace')}"
                               f"\n{done.stderr.decode(errors='replace')}")
        extra.unlink()
        for attempt in range(3):  # free_port() can race with another process grabbing the port
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in server._log_tail():
                    raise
                server.port = free_port()
    except BaseException:
        server.cleanup()
        raise
    return server


@dataclass
class MariaDbDatabase:
    """One database on the shared test server, private to a test module."""

    server: MariaDbServer
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

    def sa_url(self) -> Any:
        return self.server.sa_url(self.database_name)

    def url(self) -> str:
        return self.server.url(self.database_name)

    def connect(self, **kwargs: Any) -> Any:
        return self.server.connect(self.database_name, **kwargs)

    def execute(self, *statements: str | tuple[str, Any]) -> None:
        """Run statements (or (statement, params) pairs) and commit."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    if isinstance(statement, tuple):
                        cursor.execute(*statement)
                    else:
                        cursor.execute(statement)
            connection.commit()
        finally:
            connection.close()

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def secrets_toml(self, source: str, **extra: str) -> str:
        """The `[sources.<source>]` section that points a job at this database."""
        lines = [f"[sources.{source}]", f"host = {_toml_string(self.host)}", f"port = {self.port}",
                 f"database = {_toml_string(self.database_name)}", f"username = {_toml_string(self.user)}",
                 f"password = {_toml_string(self.password)}"]
        lines += [f"{key} = {_toml_string(value)}" for key, value in extra.items()]
        return "\n".join(lines)


@contextlib.contextmanager
def fresh_database(server: MariaDbServer, prefix: str) -> Iterator[MariaDbDatabase]:
    """Create a uniquely named utf8mb4 database, yield it, drop it (killing connections still using it).

    The drop uses a new admin connection, so a test may stop()/start() or kill() the server in between;
    if the server is left stopped, the database goes with the data dir at cleanup().
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = server.connect(autocommit=True)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        admin.close()
    try:
        yield MariaDbDatabase(server, name)
    finally:
        if server.process is not None and server.process.poll() is None:
            admin = server.connect(autocommit=True)
            try:
                with admin.cursor() as cursor:
                    # DROP DATABASE waits for metadata locks of open transactions: end those sessions first.
                    cursor.execute("SELECT id FROM information_schema.PROCESSLIST "
                                   "WHERE db = %s AND id <> CONNECTION_ID()", (name,))
                    for (session_id,) in cursor.fetchall():
                        with contextlib.suppress(Exception):
                            cursor.execute(f"KILL {int(session_id)}")
                    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            finally:
                admin.close()
