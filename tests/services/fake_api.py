"""Fake REST endpoints for the API source tests, served by pytest-httpserver (a real werkzeug server).

Each handler answers in the style of a real API: pages by link, header, offset, page number or cursor; an
endpoint whose records grow between runs and filters by `updated_since`; one that checks credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

RECORDS = [{"id": i, "name": f"item {i}", "updated_at": f"2026-01-{i:02d}T00:00:00Z"} for i in range(1, 8)]
PAGE = 3


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def _page(request: Request, first: int = 1) -> int:
    return int(request.args.get("page", first))


def json_link(server: HTTPServer) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        page = _page(request)
        rows = RECORDS[(page - 1) * PAGE: page * PAGE]
        more = page * PAGE < len(RECORDS)
        return json_response({"data": rows, "next": server.url_for(f"/api/items?page={page + 1}") if more else None})
    return handler


def header_link(server: HTTPServer) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        page = _page(request)
        headers = {}
        if page * PAGE < len(RECORDS):
            headers["Link"] = f'<{server.url_for(f"/api/items?page={page + 1}")}>; rel="next"'
        return json_response(RECORDS[(page - 1) * PAGE: page * PAGE], headers=headers)
    return handler


def offset(server: HTTPServer) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        start, limit = int(request.args["offset"]), int(request.args["limit"])
        return json_response({"items": RECORDS[start: start + limit], "total": len(RECORDS)})
    return handler


def page_number(server: HTTPServer) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        page = _page(request)
        return json_response({"results": RECORDS[(page - 1) * PAGE: page * PAGE], "total_pages": 3})
    return handler


def cursor(server: HTTPServer) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        start = int(request.args.get("after", "0"))
        rows = RECORDS[start: start + PAGE]
        following = str(start + PAGE) if start + PAGE < len(RECORDS) else None
        return json_response({"data": rows, "cursors": {"next": following}})
    return handler


def guarded(is_allowed: Callable[[Request], bool]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        if not is_allowed(request):
            return json_response({"error": "unauthorized"}, status=401)
        return json_response({"data": RECORDS[:2]})
    return handler


class ChangingApi:
    """An endpoint with records that grow between runs; filters by `updated_since`, two records per page."""

    def __init__(self, count: int) -> None:
        self.records = [dict(r) for r in RECORDS[:count]]
        self.fail_after_page: int | None = None

    def add(self, *ids: int) -> None:
        self.records.extend({"id": i, "name": f"item {i}", "updated_at": f"2026-01-{i:02d}T00:00:00Z"} for i in ids)

    def __call__(self, request: Request) -> Response:
        since = request.args.get("updated_since", "")
        rows = [r for r in self.records if r["updated_at"] >= since]
        page = _page(request)
        if self.fail_after_page is not None and page > self.fail_after_page:
            return json_response({"error": "boom"}, status=500)
        return json_response({"data": rows[(page - 1) * 2: page * 2], "total_pages": -(-len(rows) // 2)})
