"""Changes to the demo database that the tests make between two runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dlt_ingest.demo import DEMO_DATABASE


def add_new_orders(path: str | Path = DEMO_DATABASE, count: int = 25, updated_at: str = "2030-01-01 00:00:00") -> None:
    """Copy the first `count` orders as new ones (ids + 10000) changed at `updated_at`: what the next
    INCREMENTAL run of `demo.orders` should pick up, and nothing else."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO orders SELECT id + 10000, customer_id, product_id, quantity, unit_price, total, status, "
            "note, created_at, ? FROM orders WHERE id <= ?", (updated_at, count))
    connection.close()
