"""HTTP responses within a time and a size bound, whatever the server does.

`requests`' timeout bounds the connect and each single read, not a response: a server that sends a byte
every few seconds (headers or body) holds a job forever, and one that sends an endless or decompressing
body fills the memory. The adapter here gives every attempt a deadline (at which its socket is shut
down, so a blocked read returns at once) and reads the body itself, counting the decoded bytes. A missed
deadline is a `Timeout` (dlt's client retries it like any other); a body over the size bound is not
retried, as the next attempt would get the same body.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from requests import PreparedRequest, RequestException, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import Timeout
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection

BODY_CHUNK = 64 * 1024


class ResponseDeadlineExceeded(Timeout):
    """The server did not finish one response within the deadline."""


class ResponseTooLarge(RequestException):
    """The response's body (decoded) is larger than the size bound."""


class _Attempt:
    """One attempt's socket, shut down by its timer at the deadline unless the attempt ended first."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.expired = False
        self.ended = False
        self._lock = threading.Lock()

    def expire(self) -> None:
        with self._lock:
            if self.ended:
                return
            self.expired = True
            sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                # the plain socket's shutdown (an SSL socket's own would also drop its TLS state under the
                # reading thread): a read blocked in another thread returns now
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def end(self) -> None:
        with self._lock:
            self.ended = True


_current = threading.local()  # the attempt the sending thread is making (its connection hands it the socket)


def _track(sock: socket.socket | None) -> None:
    attempt = getattr(_current, "attempt", None)
    if attempt is not None and sock is not None:
        attempt.sock = sock


class _TrackedConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _track(self.sock)


class _TrackedHttpsConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _track(self.sock)


def _tracked_get_conn(pool: HTTPConnectionPool, timeout: float | None = None) -> Any:
    """A pool's `_get_conn` that hands the attempt the socket of a reused connection (a new one hands it over
    when it connects; one whose response closes it no longer has it once the headers are read)."""
    connection = HTTPConnectionPool._get_conn(pool, timeout)  # HTTPS pools inherit it unchanged
    _track(getattr(connection, "sock", None))
    return connection


class _TrackedPool(HTTPConnectionPool):
    ConnectionCls = _TrackedConnection
    _get_conn = _tracked_get_conn


class _TrackedHttpsPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHttpsConnection
    _get_conn = _tracked_get_conn


class BoundedAdapter(HTTPAdapter):
    """requests' adapter with a deadline per attempt and a bound on the decoded body size."""

    def __init__(self, deadline: float, max_bytes: int, **kwargs: Any) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedPool, "https": _TrackedHttpsPool}

    def __setstate__(self, state: dict[str, Any]) -> None:  # requests re-creates the pool manager here
        super().__setstate__(state)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedPool, "https": _TrackedHttpsPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """An HTTP(S) proxy's manager with tracked pools too (a SOCKS proxy keeps its own pools: there the
        deadline is noticed when a read returns, not forced)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = {"http": _TrackedPool, "https": _TrackedHttpsPool}
        return manager

    def send(self, request: PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> Response:
        attempt = _Attempt()
        _current.attempt = attempt
        timer = threading.Timer(self.deadline, attempt.expire)
        timer.daemon = True
        timer.start()
        try:
            response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
            if not stream:
                self._read_body(response)
        except Exception as exc:
            if attempt.expired:
                raise self._late(request) from None
            if isinstance(exc, RequestException) and exc.request is None:
                exc.request = request
            raise
        finally:
            attempt.end()
            timer.cancel()
            _current.attempt = None
        if attempt.expired:  # the shut socket read as the end of the headers or of a body of unknown length
            response.close()
            raise self._late(request)
        return response

    def _late(self, request: PreparedRequest) -> ResponseDeadlineExceeded:
        return ResponseDeadlineExceeded(f"no complete response within {self.deadline:g} s", request=request)

    def _read_body(self, response: Response) -> None:
        """The body into `response.content`, as requests reads it, stopped once it passes the bound."""
        body = bytearray()
        try:
            for chunk in response.iter_content(BODY_CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise ResponseTooLarge(f"the response is larger than {self.max_bytes:,} bytes",
                                           response=response, request=response.request)
        except BaseException:
            response.close()
            raise
        response._content = bytes(body)  # what requests' `content` holds once it has read the body
        response._content_consumed = True
