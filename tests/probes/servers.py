"""Real loopback servers for probe tests: 127.0.0.1, port 0, serving from daemon threads.

Each server is a context manager; leaving it stops the server and ends slow replies.

- ``HttpServer()``: canned routes (see its docstring) and a record of the requests;
  ``HttpServer(tls=make_cert(tmp_path))`` serves HTTPS.
- ``make_ca()`` / ``make_cert()``: certificates for those servers and TLS probe tests:
  expired, not yet valid, for other hosts, self-signed.
- ``LineServer()``: a line-based TCP server (PING -> PONG, anything else echoed).
- ``SilentServer()``: accepts connections and never says a word.
- ``closed_port()``: a port on 127.0.0.1 that nothing listens on.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connecting is refused)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


# -- certificates ------------------------------------------------------------------------
@dataclass(frozen=True)
class Cert:
    """A certificate and its key, as PEM files and as objects."""

    cert_file: Path
    """PEM: the certificate, then its issuer's (a server presents the chain)."""
    key_file: Path
    """PEM: the private key, unencrypted."""
    ca_file: Path
    """PEM a client must trust to verify it: the issuing CA, or the certificate itself."""
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def make_ca(directory: Path, *, days_left: float = 3650, days_old: float = 30) -> Cert:
    """A self-signed CA, valid from ``days_old`` days ago until ``days_left`` days from now."""
    return _issue(
        directory,
        "Leitstand Test CA",
        hosts=(),
        ca=None,
        is_ca=True,
        days_left=days_left,
        days_old=days_old,
    )


def make_cert(
    directory: Path,
    *,
    hosts: tuple[str, ...] = (LOOPBACK, "localhost"),
    days_left: float = 90,
    days_old: float = 30,
    ca: Cert | None = None,
    self_signed: bool = False,
) -> Cert:
    """A server (and client) certificate for ``hosts`` (names or IP addresses).

    Valid from ``days_old`` days ago until ``days_left`` days from now: ``days_left=-1``
    expired yesterday, ``days_old=-1`` is not valid until tomorrow. Issued by ``ca``, by a
    fresh CA (``make_ca``) when None, or by itself with ``self_signed=True``. Files are
    written to ``directory`` under fresh names, so one directory can hold many.

        make_cert(tmp_path)                          # valid for 127.0.0.1 and localhost
        make_cert(tmp_path, days_left=-3)            # expired three days ago
        make_cert(tmp_path, hosts=("other.test",))   # the wrong host
        make_cert(tmp_path, self_signed=True)        # no CA at all
    """
    if not self_signed and ca is None:
        ca = make_ca(directory)
    name = hosts[0] if hosts else "leitstand-test"
    return _issue(
        directory,
        name,
        hosts=hosts,
        ca=None if self_signed else ca,
        is_ca=False,
        days_left=days_left,
        days_old=days_old,
    )


def _issue(
    directory: Path,
    common_name: str,
    *,
    hosts: tuple[str, ...],
    ca: Cert | None,
    is_ca: bool,
    days_left: float,
    days_old: float,
) -> Cert:
    now = datetime.now(UTC)
    not_before, not_after = now - timedelta(days=days_old), now + timedelta(days=days_left)
    if not_after <= not_before:
        raise ValueError("not valid at all: days_left must be more than -days_old")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, issuer_key = (ca.cert.subject, ca.key) if ca else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if is_ca:
        usage = {"key_cert_sign": True, "crl_sign": True}
    else:
        usage = {"digital_signature": True}
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
            )
    flags = dict.fromkeys(
        [
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    builder = builder.add_extension(x509.KeyUsage(**{**flags, **usage}), critical=True)
    cert = builder.sign(issuer_key, hashes.SHA256())

    stem = f"{common_name.replace('*', '_')}-{secrets.token_hex(4)}"
    cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
    chain = [cert] + ([ca.cert] if ca else [])
    cert_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    if ca is None:
        ca_file = directory / f"{stem}-ca.crt"
        ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        ca_file = ca.ca_file
    return Cert(cert_file=cert_file, key_file=key_file, ca_file=ca_file, cert=cert, key=key)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def server_context(cert: Cert, *, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server-side TLS context presenting ``cert``; requiring client certificates
    issued by ``client_ca`` when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert_file, cert.key_file)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


# -- servers -----------------------------------------------------------------------------
class _Quiet:
    """Server mix-in: clients that hang up mid-reply are expected here, not errors."""

    stopping: threading.Event

    def handle_error(self, request, client_address) -> None:
        pass


class _Running:
    """Serve ``self.server`` from a daemon thread while the context is open."""

    server: socketserver.BaseServer

    def __enter__(self):
        self.server.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    @property
    def port(self) -> int:
        return self.server.server_address[1]


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    """The client's port: the same for two requests means the connection was reused."""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    timeout = 10  # an idle client cannot hold a handler thread for long
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle's algorithm and
        # the client's delayed ACK hold the body back 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in the handler thread, not in accept()

    def log_message(self, format, *args) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        self.server.owner.requests.append(
            Request(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[1]
            )
        )
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            self._route(url.path, query, body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the probe gave up: fine

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def _route(self, path: str, query: dict[str, str], body: bytes) -> None:
        stopping = self.server.stopping
        canned = self.server.owner.replies.get(path)
        if canned is not None:
            return self._reply(canned.status, canned.body, canned.headers)
        if path in ("/", "/ok"):
            return self._reply(200, b"ok")
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return self._reply(code, f"status {code}".encode())
        if path == "/slow":
            stopping.wait(float(query.get("seconds", 30)))
            return self._reply(200, b"ok")
        if path == "/redirect":
            location = query.get("to", "/ok")
            return self._reply(int(query.get("status", 302)), b"", {"Location": location})
        if path == "/echo":
            echo = {"method": self.command, "headers": dict(self.headers.items())}
            echo["body"] = body.decode("utf-8", "replace")
            return self._reply(200, json.dumps(echo).encode(), {"Content-Type": JSON})
        if path == "/drip":
            return self._drip(int(query.get("bytes", 100)), float(query.get("interval", 0.1)))
        if path == "/huge":
            return self._huge(int(query.get("mib", 5)), chunked=query.get("chunked") == "1")
        return self._reply(404, b"not found")

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        if status in (204, 304) or status < 200:
            body = b""  # these have no body: bytes sent anyway would spoil the connection
        self.send_response(status)
        headers = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drip(self, size: int, interval: float) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for _ in range(size):
            if self.server.stopping.wait(interval):
                break
            self.wfile.write(b"x")
        self.close_connection = True

    def _huge(self, mib: int, *, chunked: bool) -> None:
        """``mib`` MiB of "x": with Content-Length, or ended by closing the connection."""
        self.send_response(200)
        if chunked:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(mib << 20))
        self.end_headers()
        block = b"x" * (64 << 10)
        for _ in range((mib << 20) // len(block)):
            if self.server.stopping.is_set():
                break
            self.wfile.write(block)


JSON = "application/json"


class _HttpServer(_Quiet, ThreadingHTTPServer):
    daemon_threads = True
    owner: HttpServer


class HttpServer(_Running):
    """An HTTP(S) server on 127.0.0.1 with canned routes.

    ``/`` and ``/ok``
        200, body ``ok``.
    ``/status/<code>``
        That status, body ``status <code>``.
    ``/slow?seconds=S``
        Waits S seconds (default 30) before the headers, then 200 ``ok``.
    ``/drip?bytes=N&interval=S``
        Content-Length N (default 100), then one byte every S seconds (default 0.1).
    ``/huge?mib=N[&chunked=1]``
        N MiB (default 5) with Content-Length, or with ``chunked=1`` no length and the
        end marked by closing the connection.
    ``/redirect?to=URL&status=302``
        A redirect (default to ``/ok``).
    ``/echo``
        200, JSON ``{"method", "headers", "body"}`` of the request.
    anything given to ``reply()``
        That reply. Other paths: 404.

    Every request is recorded in ``requests``. ``tls=make_cert(...)`` serves HTTPS;
    ``client_ca`` then requires client certificates issued by it.
    """

    def __init__(self, *, tls: Cert | None = None, client_ca: Path | None = None) -> None:
        self.requests: list[Request] = []
        self.replies: dict[str, Reply] = {}
        self.server = _HttpServer((LOOPBACK, 0), _HttpHandler)
        self.server.owner = self
        self.scheme = "https" if tls else "http"
        if tls:
            context = server_context(tls, client_ca=client_ca)
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: ``http://127.0.0.1:<port>``."""
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def reply(
        self,
        path: str,
        *,
        status: int = 200,
        body: str | bytes = b"",
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Answer ``path`` with this reply from now on; returns its full URL."""
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("Content-Type", JSON)
        data = body.encode() if isinstance(body, str) else body
        self.replies[path] = Reply(status, data, headers)
        return self.url + path

    def requests_to(self, path: str) -> list[Request]:
        """The requests received for ``path`` (query string included, if given)."""
        return [r for r in self.requests if r.path == path or r.path.split("?")[0] == path]


class _LineHandler(socketserver.StreamRequestHandler):
    timeout = 10
    server: _LineServer

    def handle(self) -> None:
        owner = self.server.owner
        try:
            if owner.banner is not None:
                self.wfile.write(owner.banner.encode() + b"\r\n")
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace")
                owner.received.append(line)
                word = line.strip()
                self.wfile.write(owner.replies.get(word, word).encode() + b"\r\n")
                if owner.close_after_reply:
                    return
        except OSError:
            pass  # the client went away or idled out


class _LineServer(_Quiet, socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LineServer


class LineServer(_Running):
    """A line-based TCP server: replies to each line from ``replies`` (default PING ->
    PONG), echoing lines it has no reply for, each reply ended by CRLF.

    ``banner`` is sent on connect (like SMTP's ``220``); ``close_after_reply`` hangs up
    after the first reply. Lines received (with their line endings) are in ``received``.
    """

    def __init__(
        self,
        *,
        replies: dict[str, str] | None = None,
        banner: str | None = None,
        close_after_reply: bool = False,
    ) -> None:
        self.replies = {"PING": "PONG"} if replies is None else replies
        self.banner = banner
        self.close_after_reply = close_after_reply
        self.received: list[str] = []
        self.server = _LineServer((LOOPBACK, 0), _LineHandler)
        self.server.owner = self


class SilentServer:
    """Listens on 127.0.0.1, accepts connections, reads nothing and never answers.

    For HTTP it hangs before the response headers; for TCP it never replies.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self._accepted: list[socket.socket] = []
        self._stopping = threading.Event()
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> SilentServer:
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted.append(conn)  # kept open, and silent

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self._accepted:
            conn.close()


def wait_until(condition, timeout: float = 2.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds have passed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())
