"""The benchmark's PostgreSQL: a throwaway server (as the tests start one) or a given URL, and the table."""

from __future__ import annotations

import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TABLE_DDL = """CREATE TABLE {name} (
    id bigint PRIMARY KEY, order_id int, part_id int, price numeric(12,2), discount numeric(12,2),
    status text, comment text, ship_date date, updated_at timestamptz, is_returned boolean,
    tax double precision, ship_mode varchar(10))"""

# 40-character comments, 3 statuses, 7 ship modes; updated_at one second apart so INCREMENTAL has an order
TABLE_FILL = """INSERT INTO {name}
SELECT g, (g / 4)::int, (g % 200000)::int, round((random() * 100000)::numeric, 2), round((random() * 0.1)::numeric, 2),
       (ARRAY['O','F','P'])[1 + g % 3], md5(g::text) || 'abcdefgh', date '1992-01-01' + (g % 2500)::int,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second', g % 7 = 0, random() * 0.08,
       (ARRAY['AIR','MAIL','SHIP','TRUCK','RAIL','FOB','REG AIR'])[1 + g % 7]
FROM generate_series(1, {rows}) AS g"""


@dataclass
class Measure:
    """One measured process: wall and CPU seconds, peak RSS, the 1-minute load average at its end."""

    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    load: float


# the many-tables benchmarks' table: 8 columns of common types, `{n}` rows
SMALL_TABLE_DDL = ("CREATE TABLE IF NOT EXISTS {t} (id int PRIMARY KEY, name text, amount numeric(10,2), ts timestamp, "
                   "tstz timestamptz, flag boolean, big bigint, code varchar(20))")
SMALL_TABLE_FILL = ("INSERT INTO {t} SELECT g, 'name ' || g || ' ' || md5(g::text), "
                    "round((random() * 100000)::numeric, 2), timestamp '2024-01-01' + g * interval '1 minute', "
                    "timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', g % 2 = 0, g::bigint * 1000003, "
                    "'C' || (g % 97) FROM generate_series(1, {n}) g")


@dataclass
class Database:
    host: str
    port: int
    user: str
    password: str
    database: str
    server: Any = None  # the started server to stop at the end, None when reused

    def connect(self) -> Any:
        connection = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                      dbname=self.database)
        connection.autocommit = True
        return connection

    def libpq_dsn(self) -> str:
        password = self.password.replace("\\", "\\\\").replace("'", "\\'")
        return f"host={self.host} port={self.port} user={self.user} password='{password}' dbname={self.database}"

    def uri(self) -> str:
        from urllib.parse import quote

        return f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/" \
               f"{self.database}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()


def open_database(url: str | None) -> Database:
    """Reuse the server at `url` (postgresql://user:pw@host:port/db), or start one like the test suite does."""
    if url:
        parsed = make_url(url)
        return Database(parsed.host or "127.0.0.1", parsed.port or 5432, parsed.username or "",
                        parsed.password or "", parsed.database or "postgres")
    from services.postgres import start_postgres

    server = start_postgres()
    return Database(server.host, server.port, server.user, server.password, server.database, server)


def ensure_table(db: Database, rows: int) -> str:
    """`bench_<rows>` with exactly `rows` rows (built with generate_series once, reused afterwards)."""
    name = f"bench_{rows}"
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
        if cursor.fetchone()[0]:
            cursor.execute(f"SELECT count(*) FROM {name}")
            if cursor.fetchone()[0] == rows:
                return name
            cursor.execute(f"DROP TABLE {name}")
        print(f"creating {name} ...", flush=True)
        cursor.execute(TABLE_DDL.format(name=name))
        cursor.execute(TABLE_FILL.format(name=name, rows=rows))
        cursor.execute(f"CREATE INDEX ON {name} (updated_at)")
        cursor.execute(f"VACUUM ANALYZE {name}")
    return name


def max_updated_at(db: Database, table: str) -> str:
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT max(updated_at) FROM {table}")
        return cursor.fetchone()[0].isoformat()


def touch_one_percent(db: Database, table: str, round_no: int) -> int:
    """Move 1% of the rows (a different 1% each round) past the current newest `updated_at`."""
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET updated_at = (SELECT max(updated_at) FROM {table}) + interval '1 second', "
            f"comment = md5(id::text || %s) || 'touched!' WHERE id %% 100 = %s", (str(round_no), round_no % 100))
        touched = cursor.rowcount
        cursor.execute(f"VACUUM ANALYZE {table}")
    return int(touched)


def copy_table(db: Database, source: str, name: str) -> str:
    """A fresh copy of `source` (same rows, primary key and watermark index) that a benchmark may change."""
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TABLE {name} AS SELECT * FROM {source}")
        cursor.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (id)")
        cursor.execute(f"CREATE INDEX ON {name} (updated_at)")
        cursor.execute(f"VACUUM ANALYZE {name}")
    return name


def copy_table_with_uuid_key(db: Database, source: str, name: str) -> str:
    """A copy of `source` whose primary key `id` is a uuid (the MD5 of the old id); `n` keeps the old id."""
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TABLE {name} AS SELECT md5(id::text)::uuid AS id, id AS n, order_id, part_id, price, "
                       f"discount, status, comment, ship_date, updated_at, is_returned, tax, ship_mode FROM {source}")
        cursor.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (id)")
        cursor.execute(f"CREATE INDEX ON {name} (updated_at)")
        cursor.execute(f"VACUUM ANALYZE {name}")
    return name


def delete_share(db: Database, table: str, round_no: int, every: int = 1000, column: str = "id") -> int:
    """Delete one row in `every` (0.1% by default), a different share each round."""
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} %% %s = %s", (every, round_no % every))
        deleted = cursor.rowcount
        cursor.execute(f"VACUUM ANALYZE {table}")
    return int(deleted)


def small_tables(db: Database, names: list[str], rows: int) -> list[str]:
    """The many-tables benchmarks' tables (`SMALL_TABLE_DDL`, `rows` rows each), created once and reused."""
    with closing(db.connect()) as connection, connection.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
            if not cursor.fetchone()[0]:
                cursor.execute(SMALL_TABLE_DDL.format(t=name))
                cursor.execute(SMALL_TABLE_FILL.format(t=name, n=rows))
        cursor.execute("VACUUM ANALYZE")
    return names
