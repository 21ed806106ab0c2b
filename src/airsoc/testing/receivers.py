"""Real local servers to test receivers against: an HTTP sink and an SMTP server (STARTTLS + auth).

Shipped with the library so a team can test its own receiver configuration and templates the way
airsoc tests its own. The SMTP server needs the ``dev`` extra (``aiosmtpd``, ``cryptography``).

Example:
    >>> import httpx
    >>> with http_sink() as sink:
    ...     sink.statuses = [503]
    ...     first = httpx.post(sink.url + "/hook", json={"a": 1}).status_code
    ...     second = httpx.post(sink.url + "/hook", json={"a": 2}).status_code
    >>> first, second, [r.json()["a"] for r in sink.requests]
    (503, 200, [1, 2])
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airsoc.testing import free_port

__all__ = [
    "Captured",
    "HttpSink",
    "SmtpServer",
    "http_sink",
    "self_signed_cert",
    "smtp_server",
]


@dataclass
class Captured:
    """One request an HTTP sink received."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class HttpSink:
    """A local HTTP server that records requests and answers with scripted status codes."""

    url: str
    requests: list[Captured] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@contextmanager
def http_sink() -> Iterator[HttpSink]:
    """Run an HTTP server on 127.0.0.1; each POST is recorded; statuses pop from the script."""
    sink = HttpSink(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sink.requests.append(Captured(self.path, dict(self.headers.items()), body))
            status = sink.statuses.pop(0) if sink.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1/localhost; return (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    """A running SMTP server: where it listens and the messages it accepted."""

    host: str
    port: int
    ca_file: Path
    messages: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def smtp_server(folder: Path, *, user: str, password: str) -> Iterator[SmtpServer]:
    """Run aiosmtpd on 127.0.0.1 requiring STARTTLS and login with ``user``/``password``."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed_cert(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer("127.0.0.1", free_port(), cert)

    class Handler:
        async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            server.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "data": envelope.content.decode("utf-8", "replace"),
                    "tls": session.ssl is not None,
                    "login": session.auth_data.login.decode() if session.auth_data else None,
                }
            )
            return "250 OK"

    def authenticate(
        srv: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode() == user and data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    controller = Controller(
        Handler(),
        hostname=server.host,
        port=server.port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticate,
        server_hostname="localhost",
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
