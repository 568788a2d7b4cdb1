"""Paging that never guesses silently: dlt's paginator for a row, checked while the pages come in.

With an empty (or `auto`) paginator cell dlt's own detector (`PaginatorFactory`) looks at the first
response, as `RESTClient.paginate` would. A sure detection (a next link in the body or a `Link` header) is
used; a partial one (e.g. a page count, whose first page number dlt cannot know) is used with a warning
the job reports; a fallback to one page while the response holds records fails the job: the endpoint may
page in a way dlt did not see, and the rest of the records would be missing without a word.

Whatever the paginator, two consecutive pages holding the same record fail the job: the paginator does
not move on the way the API expects (a first page number off by one, an offset parameter the API
ignores), and the lake would get duplicates while other records are missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from dlt.sources.helpers.rest_client.detector import PaginatorFactory, find_response_page_data
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.rest_api.config_setup import PAGINATOR_MAP, create_paginator
from requests import Request, Response

from dlt_ingest.errors import ApiError

log = logging.getLogger("dlt_ingest.sources.api")
DOCS = "docs/api-sources.md#paginators"
SURE = 1.0  # dlt's detection score of a paginator whose settings were all found


# dlt's attribute -> the option of the paginator cell that sets it
_CELL_OPTIONS: dict[str, dict[str, str]] = {
    "page_number": {"initial_value": "base_page", "param_name": "page_param", "total_path": "total_path"},
    "offset": {"limit": "limit", "initial_value": "offset", "param_name": "offset_param", "total_path": "total_path"},
    "json_link": {"next_url_path": "next_url_path"},
    "cursor": {"cursor_path": "cursor_path", "cursor_param": "cursor_param"},
}


def describe_paginator(paginator: BasePaginator) -> str:
    """A paginator as the row's paginator cell would configure it, e.g. {"type": "page_number", ...}."""
    kind = next((name for name, cls in PAGINATOR_MAP.items() if cls is type(paginator) and name != "json_response"),
                None)
    if kind is None:
        return type(paginator).__name__
    options = {cell: getattr(paginator, attribute) for attribute, cell in _CELL_OPTIONS.get(kind, {}).items()
               if getattr(paginator, attribute, None) is not None}
    return json.dumps({"type": kind, **{k: v if isinstance(v, int | str) else str(v) for k, v in options.items()}})


def _holds_records(response: Response) -> bool:
    """The body is a list of records, or holds one (dlt's own page-data detection); not a single entity."""
    _, found = find_response_page_data(response.json())
    return isinstance(found, list)


def _identity(record: Any, key: tuple[str, ...]) -> str:
    """What makes a record the same record: its primary key, else its whole content."""
    if key and isinstance(record, dict) and all(name in record for name in key):
        value: Any = [record[name] for name in key]
    else:
        value = record
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class CheckedPaginator(BasePaginator):
    """The row's paginator (configured, or detected by dlt from the first response), refusing guesses and
    pages that repeat the previous one."""

    def __init__(self, job_name: str, endpoint: str, configured: BasePaginator | None,
                 key: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.job_name = job_name
        self.endpoint = endpoint
        self.inner = configured
        self.key = key
        self.pages = 0
        self._previous: set[str] = set()

    def init_request(self, request: Request) -> None:
        if self.inner is not None:
            self.inner.init_request(request)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        self.pages += 1
        if self.inner is None:
            self.inner = self._detect(response, data)
        self._refuse_repeated_records(data or [])
        self.inner.update_state(response, data)
        self._has_next_page = self.inner.has_next_page

    def update_request(self, request: Request) -> None:
        assert self.inner is not None
        self.inner.update_request(request)

    def __str__(self) -> str:
        return describe_paginator(self.inner) if self.inner is not None else "auto (not detected yet)"

    def _detect(self, response: Response, data: list[Any] | None) -> BasePaginator:
        paginator, score = PaginatorFactory().create_paginator(response)
        if paginator is None or (not score and data and _holds_records(response)):  # dlt would read one page
            raise ApiError(
                f"{self.job_name}: the first response of {self.endpoint} holds {len(data or [])} record(s) and no "
                f"paging information dlt recognises, so only that page would be read: write single_page in the "
                f"row's paginator cell if the endpoint returns every record at once, else the paginator it pages "
                f"with (see {DOCS})")
        if 0 < score < SURE:
            log.warning(
                "%s: dlt guessed how %s pages (%s); verify the paginator settings and write them in the row's "
                "paginator cell (see %s)", self.job_name, self.endpoint, describe_paginator(paginator), DOCS,
                extra={"job_warning": True})
        else:
            log.info("%s: paging of %s detected by dlt: %s", self.job_name, self.endpoint,
                     describe_paginator(paginator))
        return paginator

    def _refuse_repeated_records(self, data: list[Any]) -> None:
        current = {_identity(record, self.key) for record in data}
        repeated = len(current & self._previous)
        if repeated:
            raise ApiError(
                f"{self.job_name}: pages {self.pages - 1} and {self.pages} of {self.endpoint} hold {repeated} "
                f"identical record(s): the paginator ({describe_paginator(self.inner) if self.inner else 'auto'}) "
                f"does not move to the next page the way the API expects (e.g. the number of the first page, "
                f"base_page); set the row's paginator cell to match the API (see {DOCS})")
        self._previous = current


def checked_paginator(job_name: str, endpoint: str, config: dict[str, Any] | None,
                      key: tuple[str, ...] = ()) -> CheckedPaginator:
    """The paginator an API row's resource gets: its configured one (None or `auto`: dlt detects it)."""
    configured = create_paginator(config) if config is not None else None  # type: ignore[arg-type]
    return CheckedPaginator(job_name, endpoint, configured, key)
