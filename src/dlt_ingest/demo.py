"""The embedded demo source: a deterministic SQLite shop database (orders, customers, products).

Same seed, same rows, on every machine, so the demo and the tests can compare values exactly.
Rows include NULLs, Unicode and decimals so the round trip through the lake is meaningful.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

DEMO_DATABASE = "data/demo.sqlite"
DEMO_START = datetime(2024, 1, 1, 8, 0, 0)
ORDERS, CUSTOMERS, PRODUCTS = 3000, 500, 120

_NAMES = ["Ana", "Björn", "Chloé", "Dmitri", "Eşref", "François", "Grace", "Hiroshi", "Ingrid", "José",
          "Kateřina", "Łukasz", "Mónica", "Nuno", "Øyvind", "Priya", "Zoë", "李雷", "Ålfrid", "Şebnem"]
_COUNTRIES = ["DE", "FR", "US", "JP", "BR", "IN", "NO", "TR", "CZ", "PL", None]
_CATEGORIES = ["books", "garden", "kitchen", "toys", "électronique"]
_STATUSES = ["new", "paid", "shipped", "returned", "cancelled"]

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    country TEXT,
    credit_limit NUMERIC(12, 2),
    signup_date DATE NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price NUMERIC(10, 2) NOT NULL,
    weight_kg REAL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    unit_price NUMERIC(10, 2) NOT NULL,
    total NUMERIC(12, 2) NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orders_updated_at ON orders(updated_at);
"""


def _money(rng: random.Random, low: int, high: int) -> str:
    return str(Decimal(rng.randint(low * 100, high * 100)) / 100)


def build_demo_database(path: str | Path = DEMO_DATABASE, orders: int = ORDERS) -> Path:
    """(Re)create the demo database at `path`; returns its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    rng = random.Random(20260212)
    connection = sqlite3.connect(target)
    try:
        connection.executescript(SCHEMA)
        customers = [
            (i, f"{rng.choice(_NAMES)} {rng.choice(_NAMES)}", None if i % 17 == 0 else f"user{i}@example.com",
             rng.choice(_COUNTRIES), None if i % 9 == 0 else _money(rng, 100, 50000),
             (DEMO_START.date() - timedelta(days=rng.randint(0, 2000))).isoformat())
            for i in range(1, CUSTOMERS + 1)
        ]
        connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", customers)
        products = [
            (i, f"SKU-{i:05d}", f"Product {i} {rng.choice(['α', 'β', 'γ', ''])}".strip(),
             rng.choice(_CATEGORIES), _money(rng, 1, 900), None if i % 7 == 0 else round(rng.uniform(0.1, 30), 3))
            for i in range(1, PRODUCTS + 1)
        ]
        connection.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", products)
        prices = {p[0]: Decimal(p[4]) for p in products}
        rows = []
        for i in range(1, orders + 1):
            product = rng.randint(1, PRODUCTS)
            quantity = rng.randint(1, 12)
            created = DEMO_START + timedelta(minutes=17 * i + rng.randint(0, 10))
            updated = created + timedelta(hours=rng.randint(0, 72))
            rows.append((
                i, rng.randint(1, CUSTOMERS), product, quantity, str(prices[product]),
                str(prices[product] * quantity), rng.choice(_STATUSES),
                None if i % 5 else rng.choice(["gift wrap 🎁", "leave at door", "fragile — handle with care"]),
                created.isoformat(sep=" "), updated.isoformat(sep=" "),
            ))
        connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        connection.commit()
    finally:
        connection.close()
    return target
