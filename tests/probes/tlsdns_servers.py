"""Loopback servers and certificates for the TLS and DNS probe tests.

Everything listens on 127.0.0.1, port 0, in daemon threads, and is closed on exit:
``tls_server`` (one certificate per server, records the SNI names it was asked for),
``silent_tcp_server`` (accepts TCP, never speaks), ``dns_server`` (dnslib, UDP and TCP
on one port) and ``CertFactory`` (a CA plus leaves with chosen SANs and validity).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dnslib import CNAME, QTYPE, RCODE, RR, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer


# -- certificates ------------------------------------------------------------------------
@dataclass(frozen=True)
class Cert:
    cert_file: Path
    key_file: Path
    not_before: datetime
    not_after: datetime


def days_from_now(days: float) -> datetime:
    """``now + days``, nudged one hour further from now so whole-day counts come out exact."""
    nudge = timedelta(hours=1 if days >= 0 else -1)
    return (datetime.now(UTC) + timedelta(days=days) + nudge).replace(microsecond=0)


class CertFactory:
    """A CA (``ca_file``) and leaves signed by it, all written under ``directory``."""

    def __init__(self, directory: Path, *, ca_days: float = 3650) -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())  # one key for all: fast
        self._key_file = self._write("key.pem", self._key_pem())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Leitstand Test CA")])
        self.ca_name = name
        self.ca = (
            self._builder(name, name, days_from_now(-30), days_from_now(ca_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = self._write("ca.pem", self.ca.public_bytes(serialization.Encoding.PEM))

    def leaf(
        self,
        file_name: str,
        *,
        dns: Iterable[str] = (),
        ips: Iterable[str] = ("127.0.0.1",),
        valid_from_days: float = -1,
        valid_until_days: float = 365,
        self_signed: bool = False,
        with_ca: bool = False,
    ) -> Cert:
        """A server certificate for ``dns`` and ``ips``, valid between the two day offsets.

        ``with_ca``: the file holds the CA after the leaf, so the server presents both.
        """
        dns, ips = list(dns), list(ips)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns + ips)[0])])
        not_before, not_after = days_from_now(valid_from_days), days_from_now(valid_until_days)
        issuer = subject if self_signed else self.ca_name
        sans = [x509.DNSName(d) for d in dns] + [
            x509.IPAddress(ipaddress.ip_address(i)) for i in ips
        ]
        cert = (
            self._builder(subject, issuer, not_before, not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if with_ca:
            pem += self.ca.public_bytes(serialization.Encoding.PEM)
        cert_file = self._write(f"{file_name}.pem", pem)
        return Cert(cert_file, self._key_file, not_before, not_after)

    def _builder(self, subject, issuer, not_before, not_after) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )

    def _key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path


# -- TLS ---------------------------------------------------------------------------------
@dataclass
class TlsServer:
    port: int
    server_names: list[str | None] = field(default_factory=list)
    """The SNI name of every handshake attempt, in order (None: the client sent none)."""


@contextlib.contextmanager
def tls_server(cert: Cert) -> Iterator[TlsServer]:
    """A TLS server on 127.0.0.1 presenting ``cert``; each connection: handshake, close."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert_file, cert.key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    server = TlsServer(port=listener.getsockname()[1])
    context.sni_callback = lambda _sock, name, _ctx: server.server_names.append(name)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                # the probe may abort a handshake it does not trust: that is expected here
                with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@contextlib.contextmanager
def silent_tcp_server() -> Iterator[int]:
    """A port that completes TCP connects (the kernel backlog) but never says a word."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        yield listener.getsockname()[1]


def closed_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


# -- DNS ---------------------------------------------------------------------------------
class _Quiet:
    """A dnslib logger that logs nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class ZoneResolver(BaseResolver):
    """Answers from zone text, follows CNAMEs; NXDOMAIN for unknown names.

    Names in ``servfail`` get SERVFAIL; names in ``silent`` get no reply at all; names in
    ``lossy`` lose their first question (as a dropped UDP packet would) and then get answers.
    """

    def __init__(
        self,
        zone: str,
        *,
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        lossy: Iterable[str] = (),
    ) -> None:
        self.records = RR.fromZone(zone)
        self.servfail = {_fqdn(n) for n in servfail}
        self.silent = {_fqdn(n) for n in silent}
        self.lossy = {_fqdn(n) for n in lossy}
        self.questions: list[tuple[str, str, str]] = []
        """(name, type, "udp" or "tcp") of every question asked."""

    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        qname, qtype = str(request.q.qname).lower(), QTYPE[request.q.qtype]
        self.questions.append((qname, qtype, handler.protocol))
        if qname in self.silent or qname in self.lossy:
            self.lossy.discard(qname)
            raise DNSError("dropped on purpose")  # dnslib's handler then sends nothing
        reply = request.reply()
        if qname in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if not self._named(qname):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for _ in range(8):  # follow a CNAME chain, within reason
            answers = [r for r in self._named(qname) if QTYPE[r.rtype] in (qtype, "CNAME")]
            for record in answers:
                reply.add_answer(record)
            cname = next((r.rdata for r in answers if isinstance(r.rdata, CNAME)), None)
            if cname is None or qtype == "CNAME":
                break
            qname = str(cname.label).lower()
        return reply

    def _named(self, qname: str) -> list[RR]:
        return [r for r in self.records if str(r.rname).lower() == qname]


class _Handler(DNSHandler):
    """A UDP answer over 512 bytes comes back empty with TC set, as classic DNS does.

    (dnslib's own truncation drops the question too, and dnspython rightly ignores that.)
    """

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self).pack()
        if self.protocol == "udp" and len(reply) > 512:
            truncated = request.reply()
            truncated.header.tc = 1
            return truncated.pack()
        return reply


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _udp_and_tcp(resolver: ZoneResolver, tries: int = 50):
    """A UDP port the system gives, and TCP on the same number: that one may be taken
    (a connection of another program, or one in TIME_WAIT), so try another."""
    for _ in range(tries):
        udp = DNSServer(resolver, address="127.0.0.1", port=0, logger=_Quiet(), handler=_Handler)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(
                resolver, address="127.0.0.1", port=port, tcp=True, logger=_Quiet(),
                handler=_Handler,
            )  # fmt: skip
        except OSError:
            udp.server.server_close()
            continue
        return udp, tcp, port
    raise OSError(f"no port free for both UDP and TCP after {tries} tries")


@contextlib.contextmanager
def dns_server(resolver: ZoneResolver) -> Iterator[int]:
    """dnslib serving ``resolver`` on 127.0.0.1 over UDP and TCP on one free port."""
    udp, tcp, port = _udp_and_tcp(resolver)
    servers = (udp, tcp)
    for server in servers:  # not dnslib's start_thread(): a short poll makes stopping quick
        loop = server.server.serve_forever
        threading.Thread(target=loop, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield port
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()
