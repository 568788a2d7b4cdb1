"""The per-endpoint settings of an `api` row (paginator, data selector, query parameters), checked early.

`ingest validate-config` and the run share these parsers, so a cell that validates is exactly what
`rest_api_source` receives, and a wrong one is reported at its cell with the fix.
"""

from __future__ import annotations

import inspect
import json
from datetime import date, datetime
from typing import Any

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.rest_api.config_setup import PAGINATOR_MAP, create_paginator

from dlt_ingest.workbook.cells import JsonCellError, load_json_object
from dlt_ingest.workbook.model import Job, WatermarkValue

# the names a workbook may use; `json_response` is dlt's deprecated alias of json_link
PAGINATOR_TYPES: tuple[str, ...] = tuple(name for name in PAGINATOR_MAP if name != "json_response")
DOCS = "see docs/api-sources.md#paginators"


class ApiOptionError(ValueError):
    """A per-endpoint setting is wrong; the message says what to write instead."""


def parse_paginator(cell: Any) -> dict[str, Any] | None:
    """`offset` or `{"type": "offset", "limit": 100}` -> dlt's paginator config; None means auto-detect."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, dict):
        config = dict(cell)
    else:
        text = str(cell).strip()
        if text.startswith("{"):
            try:
                config = load_json_object(text, 'write e.g. {"type": "offset", "limit": 100} with double quotes')
            except JsonCellError as exc:
                raise ApiOptionError(f"is not a JSON object: {exc}; {DOCS}" if exc.not_object else str(exc)) from None
        else:
            config = {"type": text}
    kind = config.get("type")
    if not kind:
        raise ApiOptionError(f'has no "type": add one of {", ".join(PAGINATOR_TYPES)}')
    if kind not in PAGINATOR_TYPES:
        raise ApiOptionError(f"'{kind}' is not a paginator: use one of {', '.join(PAGINATOR_TYPES)}")
    _check_paginator_options(str(kind), config)
    return config


def _check_paginator_options(kind: str, config: dict[str, Any]) -> None:
    paginator_class = PAGINATOR_MAP[kind]
    options = {k: v for k, v in config.items() if k != "type"}
    if paginator_class is None:  # auto
        if options:
            raise ApiOptionError(f"'auto' takes no options (got {', '.join(sorted(options))}); {DOCS}")
        return
    parameters = {
        name: p for name, p in inspect.signature(paginator_class.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        known = ", ".join(parameters) or "none"
        raise ApiOptionError(f"{kind} has no option {', '.join(unknown)}: its options are {known}")
    missing = [n for n, p in parameters.items() if p.default is p.empty and n not in options]
    if missing:
        raise ApiOptionError(
            f"{kind} needs {', '.join(missing)}, e.g. "
            + json.dumps({"type": kind, **{n: 100 for n in missing}})
        )
    try:
        paginator = create_paginator(config)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ApiOptionError(f"{kind}: {str(exc).splitlines()[0]}; {DOCS}") from None
    assert isinstance(paginator, BasePaginator)


def check_data_selector(cell: Any) -> str | None:
    if cell is None or not str(cell).strip():
        return None
    text = str(cell).strip()
    try:
        jsonpath.compile_path(text)
    except Exception as exc:  # jsonpath-ng raises its own lexer/parser errors
        raise ApiOptionError(
            f"'{text[:60]}' is not a JSONPath ({str(exc).splitlines()[0][:80]}): write e.g. data or results.items"
        ) from None
    return text


def check_params(params: Any, where: str) -> dict[str, Any]:
    """Query parameters: names to scalars or lists of scalars (repeated parameters)."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ApiOptionError(f"{where} must be a JSON object of parameter names to values")
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, dict | list) for v in values):
            raise ApiOptionError(
                f"{where}: parameter '{name}' has a nested value; use a text, a number or a list of them"
            )
    return dict(params)


def endpoint_problems(job: Job) -> list[tuple[str, str]]:
    """Every wrong setting of an `api` row, as (column, message with the fix)."""
    problems: list[tuple[str, str]] = []
    if not job.api_endpoint:
        problems.append(("api_endpoint", "is empty: type the path below the source's base_url, e.g. coins/markets"))
    if str(job.extra.get("backend") or "auto") != "auto":
        problems.append(("backend", f"'{job.extra['backend']}' applies to database sources only: leave it empty "
                                    f"for an api row"))
    checks = (
        ("paginator", parse_paginator),
        ("data_selector", check_data_selector),
        ("api_params", lambda v: check_params(v, "api_params")),
    )
    for column, check in checks:
        try:
            check(job.extra.get(column))
        except ApiOptionError as exc:
            problems.append((column, str(exc)))
    return problems


def cursor_value(value: WatermarkValue | None) -> Any:
    """The workbook's `last_watermark` as the API sees it: dates become ISO-8601 text, numbers stay numbers."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
