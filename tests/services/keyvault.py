"""A small Azure Key Vault on https://127.0.0.1 with a self-signed certificate made for this session.

It implements the bearer challenge the SDK expects: an unauthenticated request gets 401 with
`WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
resource="https://vault.azure.net"`; the retry must carry `Bearer <TOKEN>`. `deny_reads = True`
answers 403 Forbidden (a configured store that fails).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

TOKEN = "fake-aad-access-token"
TENANT = "00000000-0000-0000-0000-000000000001"
CHALLENGE = (f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
             'resource="https://vault.azure.net"')


class FixedTokenCredential:
    """A TokenCredential returning a fixed token: there is no Azure AD here."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(TOKEN, int(time.time()) + 3600)


def write_self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key, as PEM files in `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "vault-cert.pem", folder / "vault-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class KeyVault:
    secrets: dict[str, str] = field(default_factory=dict)
    deny_reads: bool = False
    cert_path: Path = Path()
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"https://127.0.0.1:{self.server.server_address[1]}/"

    def client_options(self) -> dict[str, Any]:
        """What `SecretClient` needs to talk to this vault (besides the credential)."""
        return {"verify_challenge_resource": False, "connection_verify": str(self.cert_path)}

    def reset(self) -> None:
        self.secrets.clear()
        self.deny_reads = False

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _handler(state: KeyVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error": {"code": code, "message": message}})

        def _bundle(self, name: str) -> dict[str, Any]:
            return {"value": state.secrets[name], "id": f"{state.url}secrets/{name}/0123456789abcdef",
                    "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000}}

        def _authorized(self) -> bool:
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a "
                                           "Bearer or PoP token."}}, {"WWW-Authenticate": CHALLENGE})
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if state.deny_reads:
                self._error(403, "Forbidden", "The user, group or application does not have secrets get permission")
                return
            parts = [p for p in urlparse(self.path).path.split("/") if p]
            if parts == ["secrets"]:
                items = [{"id": f"{state.url}secrets/{n}", "attributes": {"enabled": True}}
                         for n in sorted(state.secrets)]
                self._send(200, {"value": items, "nextLink": None})
            elif len(parts) >= 2 and parts[0] == "secrets":
                if parts[1] not in state.secrets:
                    self._error(404, "SecretNotFound", f"A secret with (name/id) {parts[1]} was not found in this "
                                "key vault.")
                    return
                self._send(200, self._bundle(parts[1]))
            else:
                self._error(404, "NotFound", self.path)

        def do_PUT(self) -> None:
            if not self._authorized():
                return
            parts = [p for p in urlparse(self.path).path.split("/") if p]
            if len(parts) != 2 or parts[0] != "secrets":
                self._error(404, "NotFound", self.path)
                return
            state.secrets[parts[1]] = json.loads(self.body)["value"]
            self._send(200, self._bundle(parts[1]))

    return Handler


def start_key_vault(folder: Path) -> KeyVault:
    cert_path, key_path = write_self_signed_certificate(folder)
    state = KeyVault(cert_path=cert_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.server = server
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-keyvault").start()
    return state
