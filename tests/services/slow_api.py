"""A raw-socket server on 127.0.0.1 that misbehaves the ways a request timeout cannot catch.

Each path is a behaviour: `/api/good` answers one JSON page; `/api/drip-body` and `/api/drip-headers` send
a byte every `drip_every` seconds (each read finishes well inside any read timeout, the response never
does); `/api/endless` sends a chunked body that never ends; `/api/gzip-bomb` sends a small gzip body that
decompresses to `bomb_bytes`; `/api/deep` sends a JSON array nested 200,000 levels deep. Requests are
counted per path. A drip stops after `give_up_after` seconds and an endless body after `endless_bytes`,
so a client without bounds fails a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import socketserver
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

GOOD_BODY = b'[{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]'


@dataclass
class SlowApi:
    drip_every: float = 0.05
    bomb_bytes: int = 64 * 1024 * 1024
    give_up_after: float = 10.0
    endless_bytes: int = 256 * 1024 * 1024
    requests: Counter[str] = field(default_factory=Counter)
    _server: socketserver.ThreadingTCPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def start(self) -> SlowApi:
        api = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                path = request.split(b" ", 2)[1].decode().split("?", 1)[0]
                api.requests[path] += 1
                with contextlib.suppress(OSError):  # the client gave up: what it should do
                    api.answer(self.request, path)

        socketserver.ThreadingTCPServer.daemon_threads = True
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def answer(self, sock: socket.socket, path: str) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if path.endswith("/good"):
            sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(GOOD_BODY) + GOOD_BODY)
        elif path.endswith("/drip-body"):
            sock.sendall(head + b"Content-Length: 100000\r\n\r\n[")
            self._drip(sock, b" ")
        elif path.endswith("/drip-headers"):
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._drip(sock, b"a")
        elif path.endswith("/endless"):
            sock.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
            piece, sent = b"[" + b" " * 65535, 0
            while not self._stop.is_set() and sent < self.endless_bytes:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
                piece = b" " * 65536
            sock.sendall(b"1\r\n]\r\n0\r\n\r\n")
        elif path.endswith("/deep"):
            body = b"[" * 200_000 + b"]" * 200_000
            sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        elif path.endswith("/gzip-bomb"):
            body = gzip.compress(b"[" + b" " * self.bomb_bytes + b"]", compresslevel=9)
            sock.sendall(head + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    def _drip(self, sock: socket.socket, byte: bytes) -> None:
        until = time.monotonic() + self.give_up_after
        while not self._stop.is_set() and time.monotonic() < until:
            sock.sendall(byte)
            time.sleep(self.drip_every)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
