"""Start and stop a threaded `http.server` on a free port of 127.0.0.1 (the hand-written test servers)."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def serve(handler: type[BaseHTTPRequestHandler], certificate: tuple[Path, Path] | None = None) -> ThreadingHTTPServer:
    """Serve `handler` on a thread; with a (cert, key) pair over TLS."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shutdown(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
