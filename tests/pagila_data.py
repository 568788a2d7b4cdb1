"""Pagila's schema (tests/data/pagila) with rows generated here: realistic, the same on every run (one seeded
`random.Random`), and hostile where a real database is: NULLs, the limits of every type, unicode, arrays with
NULLs and nesting, tsvectors, the domains `bıgınt` and `year`, the enum, the padded character(20), rows sharing
one last_update (pagila's own data does), and payments on the edges of their partitions."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).parent / "data" / "pagila" / "pagila-schema.sql"
UTC = timezone.utc
SEED = 20220215
LOADED_AT = datetime(2022, 2, 15, 9, 45, 30, tzinfo=UTC)  # pagila's own last_update of most rows
FIRST, LAST = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# every table, in an order the foreign keys accept; the views and the materialized view
TABLES = ["language", "country", "city", "address", "store", "staff", "category", "actor", "film", "film_actor",
          "film_category", "film_stat", "inventory", "customer", "rental", "payment"]
VIEWS = ["actor_info", "customer_list", "film_list", "staff_list", "rental_by_category"]
PRIMARY_KEYS = {table: [f"{table}_id"] for table in TABLES} | {
    "film_actor": ["actor_id", "film_id"], "film_category": ["film_id", "category_id"], "film_stat": ["film_id"],
    "payment": ["payment_date", "payment_id"]}
WATERMARKS = {table: "last_update" for table in TABLES} | {"payment": "payment_date"}

NAMES = ["PENELOPE", "NICK", "ED", "JENNIFER", "JOHNNY", "BETTE", "GRACE", "MATTHEW", "JOE", "CHRISTIAN", "ZERO",
         "KARL", "UMA", "VIVIEN", "CUBA", "FRED", "HELEN", "DAN", "BOB", "LUCILLE", "Şükrü", "Ιωάννης", "Zoë",
         "Ólafur", "Ngô", "Дмитрий", "María José", "O'NEIL", 'D"Arcy', "back\\slash", "徐", "İlkay"]
WORDS = ["Epic", "Drama", "of", "a", "Feminist", "And", "a", "Mad", "Scientist", "who", "must", "Battle", "Teacher",
         "in", "The", "Canadian", "Rockies", "Astounding", "Saga", "Dog", "Husband", "Pursue", "Monastery", "Yarn",
         "Ünïcödé", "日本語", "😀", "naïve", "café", "Ætna"]
COUNTRIES = ["Afghanistan", "Algeria", "Côte d’Ivoire", "Türkiye", "中国", "Réunion", "Ísland", "Việt Nam",
             "São Tomé and Príncipe", "Åland", "Россия", "ישראל", "مصر", "Ελλάδα", "O'Land", "Tab\tLand",
             "Line\nBreak", "Sri Lanka", "Korea, Republic of", "Holy See (Vatican City State)", "x" * 10_000]
LANGUAGES = ["English", "Italian", "Japanese", "Mandarin", "French", "German", "Türkçe ıİ", "日本語😀", "",
             "exactly twenty chars", " leading space"]
CATEGORIES = ["Action", "Animation", "Children", "Classics", "Comedy", "Documentary", "Drama", "Family", "Foreign",
              "Games", "Horror", "Music", "New", "Sci-Fi", "Sports", "Travel"]
FEATURES = ["Trailers", "Commentaries", "Deleted Scenes", "Behind the Scenes"]
ODD_FEATURES = [None, "{}", "{NULL}", '{Trailers,"Deleted Scenes",NULL}', '{"with,comma","quote\\"","back\\\\slash"}',
                '{"NULL","",ünï 😀}', "{{a,b},{c,d}}", "[0:1]={x,y}"]
ODD_TSVECTORS = ["", "'it''s':1A 'x':2B,3", "'a':1 'fat':2 'cat':3,4C", "'ünï😀':1", "'spaced out':1"]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452")
# pagila's film_fulltext_trigger, once: every film without a hand-written tsvector gets its title and description
DERIVED = ("UPDATE public.film SET fulltext = to_tsvector('pg_catalog.english', title || ' ' || "
           "coalesce(description, '')) WHERE film_id % 4 <> 1")

# between two incremental runs: updated rows get a later last_update, new rows arrive, one of them exactly at the
# boundary the first run ended on (loaded once); the rows each table's second run must load
LATER = "'2022-03-01 12:00:00.5+00'"
CHANGES = [
    f"UPDATE public.actor SET last_name = 'ÇHANGED', last_update = {LATER} WHERE actor_id IN (1, 2, 3)",
    "UPDATE public.film SET special_features = '{NULL,NULL}', fulltext = '', release_year = NULL, "
    f"last_update = {LATER} WHERE film_id = 2",
    "INSERT INTO public.payment VALUES (100001, 1, 1, 1, 12.34, '2022-07-31 23:59:59.999999+00', "
    "'6d3b4f0e-0000-4000-8000-000000000001')",
    f"INSERT INTO public.language VALUES (100, 'Klingon tlhIngan', {LATER})",
]
CHANGED = {"actor": "actor_id IN (1, 2, 3)", "film": "film_id = 2", "payment": "payment_id = 100001",
           "language": "language_id = 100"}


@dataclass(frozen=True)
class Insert:
    table: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    casts: dict[str, str]  # column -> the SQL type its text parameter is cast to

    def statement(self) -> str:
        names = ", ".join(f'"{c}"' for c in self.columns)
        values = ", ".join(f"%s::{self.casts[c]}" if c in self.casts else "%s" for c in self.columns)
        return f"INSERT INTO public.{self.table} ({names}) VALUES ({values})"


def _stamp(i: int) -> datetime:
    """Mostly pagila's one instant; a microsecond later now and then."""
    return LOADED_AT + timedelta(microseconds=1) if i % 7 == 3 else LOADED_AT


class Generator:
    """Rows for every pagila table, `scale` times pagila's proportions of a small sample."""

    def __init__(self, scale: int = 1) -> None:
        self.rng = random.Random(SEED)
        self.scale = scale

    def _instant(self, start: datetime, days: int) -> datetime:
        return start + timedelta(seconds=self.rng.randrange(days * 86400),
                                 microseconds=self.rng.choice([0, 0, 1, 123456, 999999]))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def inserts(self) -> list[Insert]:
        return [self.languages(), *self.people(), self.films(), *self.film_links(), *self.business()]

    def languages(self) -> Insert:
        return Insert("language", ["language_id", "name", "last_update"],
                      [(i + 1, name, _stamp(i)) for i, name in enumerate(LANGUAGES)], {})

    def people(self) -> list[Insert]:
        rng, cities, addresses = self.rng, 40 * self.scale, 60 * self.scale
        return [
            Insert("country", ["country_id", "country", "last_update"],  # the first and last instants a lake holds
                   [(i + 1, name, (FIRST, LAST)[i % 2] if i % 9 == 4 else _stamp(i))
                    for i, name in enumerate(COUNTRIES)], {}),
            Insert("city", ["city_id", "city", "country_id", "last_update"],
                   [(i + 1, f"{rng.choice(WORDS)} {rng.choice(NAMES).title()}", rng.randint(1, len(COUNTRIES)),
                     _stamp(i)) for i in range(cities)], {}),
            Insert("address", ["address_id", "address", "address2", "district", "city_id", "postal_code", "phone",
                               "last_update"],
                   [(i + 1, f"{rng.randint(1, 1999)} {rng.choice(WORDS)} Street", rng.choice([None, "", "Apt 5"]),
                     rng.choice(["Alberta", "QLD", "İstanbul", "東京都", ""]), rng.randint(1, cities),
                     rng.choice([None, "", f"{rng.randint(0, 99999):05d}", "SW1A 1AA"]),
                     rng.choice(["", "+90 212 555 0101", f"{rng.randint(10**9, 10**10 - 1)}"]), _stamp(i))
                    for i in range(addresses)], {}),
            Insert("store", ["store_id", "manager_staff_id", "address_id", "last_update"],
                   [(1, 1, 1, LOADED_AT), (2, 2, 2, LOADED_AT)], {}),
            Insert("staff", ["staff_id", "first_name", "last_name", "address_id", "email", "store_id", "active",
                             "username", "password", "last_update", "picture"],
                   [(1, "Mike", "Hillyer", 3, "Mike.Hillyer@sakilastaff.com", 1, True, "Mike",
                     "8cb2237d0679ca88db6464eac60da96345513964", LOADED_AT, PNG),
                    (2, "Jon", "Stephens", 4, None, 2, True, "Jon", None, LOADED_AT, b""),
                    (3, "Ünal", "Öztürk", 5, "ünal@ö.example", 2, False, "ünal", "", LOADED_AT, b"\x00\x01\xff\x00")],
                   {}),
            Insert("category", ["category_id", "name", "last_update"],
                   [(i + 1, name, _stamp(i)) for i, name in enumerate(CATEGORIES)], {}),
            Insert("actor", ["actor_id", "first_name", "last_name", "last_update"],
                   [(i + 1, rng.choice(NAMES), rng.choice(NAMES).upper(), _stamp(i)) for i in range(200 * self.scale)],
                   {}),
        ]

    def films(self) -> Insert:
        rng, rows = self.rng, []
        for i in range(100 * self.scale):
            extreme = i % 10 == 0  # the limits of smallint, numeric(4,2), numeric(5,2), the year domain
            rows.append((
                i + 1, f"{rng.choice(WORDS).upper()} {rng.choice(WORDS).upper()}",
                None if i % 13 == 0 else " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))),
                rng.choice([None, 1901, 2155]) if extreme else rng.randint(1990, 2022),
                rng.randint(1, len(LANGUAGES)), rng.choice([None, rng.randint(1, len(LANGUAGES))]),
                rng.choice([32767, -32768]) if extreme else rng.randint(3, 7),
                Decimal(rng.choice(["99.99", "-99.99", "0.00"] if extreme else ["0.99", "2.99", "4.99"])),
                rng.choice([None, 0, 5999, -5999]) if extreme else rng.randint(46, 185),  # length_hours fits (4,2)
                Decimal(rng.choice(["999.99", "-999.99", "0.01"]) if extreme else rng.randint(999, 2999)) / (
                    1 if extreme else 100),
                rng.choice([None, "G", "PG", "PG-13", "R", "NC-17"]), _stamp(i),
                ODD_FEATURES[i % len(ODD_FEATURES)] if i % 3 == 0 else
                "{" + ",".join(f'"{f}"' for f in rng.sample(FEATURES, rng.randint(1, 4))) + "}",
                ODD_TSVECTORS[i % len(ODD_TSVECTORS)] if i % 4 == 0 else "",  # the others: DERIVED
            ))
        return Insert("film", ["film_id", "title", "description", "release_year", "language_id", "original_language_id",
                               "rental_duration", "rental_rate", "length", "replacement_cost", "rating", "last_update",
                               "special_features", "fulltext"],
                      rows, {"rating": "public.mpaa_rating", "special_features": "text[]", "fulltext": "tsvector"})

    def film_links(self) -> list[Insert]:
        rng, films, actors = self.rng, 100 * self.scale, 200 * self.scale
        pairs = sorted({(rng.randint(1, actors), rng.randint(1, films)) for _ in range(5 * films)})
        big = [9223372036854775807, -9223372036854775808, 0, None, 9007199254740993]
        return [
            Insert("film_actor", ["actor_id", "film_id", "last_update"], [(a, f, _stamp(a + f)) for a, f in pairs], {}),
            Insert("film_category", ["film_id", "category_id", "last_update"],
                   [(f, rng.randint(1, len(CATEGORIES)), _stamp(f)) for f in range(1, films + 1)], {}),
            Insert("film_stat", ["film_id", "görüntülenme", "first_shown", "last_update"],
                   [(f, big[f % len(big)] if f % 3 == 0 else rng.randint(0, 10**12),
                     rng.choice([None, 1901, 2155, 2006]), _stamp(f)) for f in range(1, films + 1)], {}),
            Insert("inventory", ["inventory_id", "film_id", "store_id", "last_update"],
                   [(i + 1, rng.randint(1, films), rng.randint(1, 2), _stamp(i)) for i in range(300 * self.scale)], {}),
        ]

    def business(self) -> list[Insert]:
        rng, customers, rentals = self.rng, 100 * self.scale, 1000 * self.scale
        ends = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"]
        customer_rows = [(
            i + 1, rng.randint(1, 2), rng.choice(NAMES), rng.choice(NAMES).upper(),
            None if i % 11 == 0 else f"{rng.choice(NAMES).lower()}@sakilacustomer.org", rng.randint(1, 60 * self.scale),
            i % 9 != 0, rng.choice(["0001-01-01", "9999-12-31", "2024-02-29"]) if i % 17 == 0 else "2022-02-14",
            None if i % 23 == 0 else _stamp(i),  # customer.last_update is nullable: never picked up incrementally
            rng.choice([None, 2147483647, -2147483648]) if i % 5 == 0 else 1, ends[i] if i < 2 else self._uuid(),
        ) for i in range(customers)]
        rental_rows = []
        for i in range(rentals):
            rented = self._instant(datetime(2022, 1, 1, tzinfo=UTC), 200)
            returned = None if i % 8 == 0 else rented + timedelta(days=rng.randint(0, 10), seconds=rng.randrange(86400))
            rental_rows.append((i + 1, rented, rng.randint(1, 300 * self.scale), rng.randint(1, customers),
                                LAST if i == 7 else returned,  # in the server's +05:30 it is the year 10000
                                rng.randint(1, 3), _stamp(i), self._uuid()))
        edges = [datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
                 datetime(2022, 4, 1, tzinfo=UTC), datetime(2022, 7, 31, 23, 59, 59, 999999, tzinfo=UTC)]
        payment_rows = [(
            i + 1, rng.randint(1, customers), rng.randint(1, 3), rng.randint(1, rentals),
            Decimal(rng.choice(["999.99", "-999.99", "0.00"])) if i % 40 == 0 else Decimal(rng.randint(0, 1199)) / 100,
            edges[i % len(edges)] if i % 50 == 0 else self._instant(datetime(2022, 1, 1, tzinfo=UTC), 211),
            self._uuid(),
        ) for i in range(rentals)]
        return [
            Insert("customer", ["customer_id", "store_id", "first_name", "last_name", "email", "address_id",
                                "activebool", "create_date", "last_update", "active", "uuid"], customer_rows,
                   {"create_date": "date"}),
            Insert("rental", ["rental_id", "rental_date", "inventory_id", "customer_id", "return_date", "staff_id",
                              "last_update", "uuid"], rental_rows, {}),
            Insert("payment", ["payment_id", "customer_id", "staff_id", "rental_id", "amount", "payment_date", "uuid"],
                   payment_rows, {}),
        ]


def load(connection: Any, scale: int = 1) -> None:
    """Create pagila's schema and fill it, on a psycopg2 connection."""
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA.read_text(encoding="utf-8"))
        for insert in Generator(scale).inserts():
            cursor.executemany(insert.statement(), insert.rows)
        cursor.execute(DERIVED)
        cursor.execute("REFRESH MATERIALIZED VIEW public.rental_by_category")
    connection.commit()
