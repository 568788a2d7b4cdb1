"""JSON typed into a workbook cell: one parser, so every JSON column explains a mistake the same way."""

from __future__ import annotations

import json
from typing import Any


class JsonCellError(ValueError):
    """The cell is not valid JSON, or not an object; `not_object` tells which."""

    def __init__(self, message: str, not_object: bool = False) -> None:
        super().__init__(message)
        self.not_object = not_object


def load_json_object(text: str, fix: str) -> dict[str, Any]:
    """Parse `text` as a JSON object; the error shows where it broke, then `fix`."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonCellError(
            f"not valid JSON ({exc.msg} at character {exc.pos + 1}): {text[:60]}; {fix}"
        ) from None
    if not isinstance(parsed, dict):
        raise JsonCellError(text[:60], not_object=True)
    return parsed
