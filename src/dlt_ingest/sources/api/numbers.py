"""API records whose numbers no lake type holds are refused, naming the field, before dlt sees them.

JSON numbers have no range. Python reads an integer of any size and `1e400` as infinity. dlt fails the
first with "Integer exceeds 64-bit range" or "Python int too large to convert to C long" (from 2**63 on),
naming no field. It drops the second without a word: its
column gets no value and no type. Neither can land exactly (no lake type holds a 100-bit integer, and
infinity is not the number the API sent), so the job fails naming the field, the record and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dlt_ingest.errors import SourceError

INT_RANGE = (-(2**63), 2**63 - 1)  # int64: dlt types every JSON integer bigint (2**63 and up fail in it)


def _bad_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not INT_RANGE[0] <= value <= INT_RANGE[1]
    return isinstance(value, float) and not math.isfinite(value)


def _find(value: Any, path: str) -> tuple[str, Any] | None:
    """The first field (as a dotted path, list positions in brackets) whose number no lake type holds."""
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _find(inner, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _find(inner, f"{path}[{index}]")
            if found:
                return found
    elif _bad_number(value):
        return path, value
    return None


def number_check(job_name: str, table: str) -> Callable[[Any], Any]:
    """A dlt map for the job's records: each record passes unchanged, or the job fails naming its field."""
    seen = 0

    def check(record: Any) -> Any:
        nonlocal seen
        seen += 1
        found = _find(record, "")
        if found is not None:
            path, value = found
            if isinstance(value, int):
                what = f"an integer of {len(str(abs(value)))} digits, outside the 64-bit integer range"
            else:
                what = "a number that is not finite as a 64-bit float (such as 1e400)"
            raise SourceError(
                f"{job_name}: field {path or '(the record)'} of record {seen} of {table} holds {what}: no lake "
                f"type holds it exactly. Ask the API to send it as a string, or leave the field out of the "
                f"endpoint's response")
        return record

    return check
