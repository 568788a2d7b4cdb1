"""What a server holds, compared with the lake: PostgreSQL's values as the driver types them or as the text the
server sends (nothing converted by psycopg2), in the session every backend reads in; and one exact comparison
of a server's value with a lake's."""

from __future__ import annotations

import math
import struct
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.extensions
import pyarrow as pa

SESSION = "-c TimeZone=UTC -c IntervalStyle=iso_8601 -c DateStyle=ISO -c extra_float_digits=3"


def connect(database: Any, raw_text: bool = False) -> Any:
    """A psycopg2 connection in the reading session; `raw_text`: every value as the server's text."""
    connection = psycopg2.connect(host=database.host, port=database.port, user=database.user,
                                  password=database.password, dbname=database.database_name, options=SESSION)
    if raw_text:
        with connection.cursor() as cursor:
            cursor.execute("SELECT oid FROM pg_type")
            oids = tuple(row[0] for row in cursor.fetchall())
        raw = psycopg2.extensions.new_type(oids, "RAW_TEXT", lambda value, cursor: value)
        psycopg2.extensions.register_type(raw, connection)
        psycopg2.extensions.register_type(psycopg2.extensions.new_array_type((), "RAW_ARRAY", raw), connection)
    return connection


def same(expected: Any, landed: Any, kind: pa.DataType) -> bool:
    if expected is None or landed is None:
        return expected is None and landed is None
    if pa.types.is_floating(kind):
        if math.isnan(expected):
            return math.isnan(landed)
        if pa.types.is_float32(kind):
            expected = struct.unpack("f", struct.pack("f", expected))[0]
        return struct.pack("d", expected) == struct.pack("d", landed)  # -0.0 is not 0.0
    if isinstance(expected, datetime) and isinstance(landed, datetime):  # zoned ones compare their instants
        return expected == landed and (expected.tzinfo is None) == (landed.tzinfo is None)
    return bool(expected == landed)  # decimals compare their values
