"""The TLS probe: handshake, verify the certificate, and watch how long it has left.

Verification uses the system CAs, or ``ca_file`` when set; the hostname checked (and sent
as SNI) is ``server_name`` or ``host`` — IP addresses match SAN IP entries. When the
certificate does not verify, a second, unverified handshake (within the same deadline)
reads it, so the error can say *why*: how long ago it expired, which names it is for.

``ssl_earliest_cert_expiry`` covers the chain the server presented (the private
``get_unverified_chain()`` of CPython >= 3.10); where that is missing, the leaf alone.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from probes.base import Deadline, ProbeResult, describe, error_text, failure

log = logging.getLogger(__name__)

DAY = 86400.0

# OpenSSL X509_V_ERR_* codes that we can explain better from the certificate itself
_NOT_YET_VALID, _EXPIRED = 9, 10
_NAME_MISMATCH = {62, 64}  # hostname, IP address


@dataclass(frozen=True, slots=True)
class _Peer:
    leaf: x509.Certificate
    chain: list[x509.Certificate]
    """What the server presented, leaf first; just the leaf where the chain is unavailable."""

    @property
    def earliest_expiry(self) -> datetime:
        return min(cert.not_valid_after_utc for cert in self.chain)


class _Stage(Exception):
    """A socket error, said with the stage it happened in."""


def probe(spec, *, timeout: float) -> ProbeResult:
    """Handshake with ``spec.host:spec.port`` and judge the certificate (DESIGN §5)."""
    started = time.perf_counter()
    deadline = Deadline(timeout)
    server_name = spec.server_name or spec.host
    try:
        context = _context(spec.ca_file)
        begin = time.perf_counter()
        peer = _handshake(spec, server_name, context, deadline)
        latency = time.perf_counter() - begin
    except ssl.SSLCertVerificationError as exc:
        return _verify_failure(spec, server_name, exc, deadline, started)
    except _Stage as exc:
        return failure(str(exc), started)
    except Exception as exc:
        return failure(error_text(exc, timeout), started)
    return _judge(spec, peer, latency, started)


def _judge(spec, peer: _Peer, latency: float, started: float) -> ProbeResult:
    expiry = peer.earliest_expiry
    days_left = (expiry - datetime.now(UTC)).total_seconds() / DAY
    measured = {"latency_seconds": latency, "ssl_earliest_cert_expiry": expiry.timestamp()}
    if days_left < spec.min_days_left:
        error = f"{_expires_in(days_left)} (below min_days_left {spec.min_days_left})"
        return failure(error, started, **measured)
    degraded = days_left < spec.warn_days
    return ProbeResult(
        ok=True,
        duration_seconds=time.perf_counter() - started,
        degraded=degraded,
        error=f"{_expires_in(days_left)} (below warn_days {spec.warn_days})" if degraded else None,
        **measured,
    )


def _verify_failure(spec, server_name: str, exc, deadline: Deadline, started) -> ProbeResult:
    """Explain a failed verification from the certificate itself, where we can read it."""
    fallback = f"certificate verify failed: {exc.verify_message or describe(exc)}"
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    try:
        peer = _handshake(spec, server_name, unverified, deadline)
    except Exception:  # the server went away, or the deadline: the verify message must do
        return failure(fallback, started)
    return failure(
        _explain(exc.verify_code, peer, server_name) or fallback,
        started,
        ssl_earliest_cert_expiry=peer.earliest_expiry.timestamp(),
    )


def _explain(code: int, peer: _Peer, server_name: str) -> str | None:
    now = datetime.now(UTC)
    if code == _EXPIRED:
        expired = min(peer.chain, key=lambda c: c.not_valid_after_utc).not_valid_after_utc
        days = int((now - expired).total_seconds() // DAY)
        ago = "today" if days == 0 else f"{_days(days)} ago"
        return f"{_which(peer, expired)} expired {ago} ({expired:%Y-%m-%d})"
    if code == _NOT_YET_VALID:
        starts = max(cert.not_valid_before_utc for cert in peer.chain)
        return f"certificate not valid until {starts:%Y-%m-%d}"
    if code in _NAME_MISMATCH:
        names = _names(peer.leaf)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"certificate is for {shown or 'no names'}, not {server_name}"
    return None


def _which(peer: _Peer, expired: datetime) -> str:
    if peer.leaf.not_valid_after_utc == expired:
        return "certificate"
    return "a certificate in the chain"


def _names(cert: x509.Certificate) -> list[str]:
    """The names a certificate is for: its SAN entries, else its common name."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        return [str(a.value) for a in attrs]
    return [str(name) for name in sans.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
    ]


def _context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying against the system CAs, or only those in ``ca_file``."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except OSError as exc:  # missing, unreadable, or not PEM (ssl.SSLError)
        raise _Stage(f"cannot use ca_file {ca_file}: {_reason(exc)}") from exc


def _handshake(spec, server_name: str, context: ssl.SSLContext, deadline: Deadline) -> _Peer:
    """Connect and handshake within the deadline; the certificates the server presented."""
    sock = _connect(spec.host, spec.port, deadline)
    with sock:
        try:
            sock.settimeout(deadline.remaining())  # CPython bounds the whole handshake by it
            with context.wrap_socket(sock, server_hostname=server_name) as tls:
                return _peer(tls)
        except TimeoutError as exc:
            raise _Stage(f"timed out after {deadline.timeout:g}s (TLS handshake)") from exc
        except ssl.SSLCertVerificationError:
            raise
        except (ssl.SSLError, ConnectionError) as exc:
            raise _Stage(f"TLS handshake failed: {_reason(exc)}") from exc


def _connect(host: str, port: int, deadline: Deadline) -> socket.socket:
    """A connected TCP socket; every address tried gets only what is left of the deadline."""
    # getaddrinfo cannot be given a timeout; a hung system resolver is the one step outside
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Stage(f"cannot resolve {host}: {exc.strerror.lower()}") from exc
    error: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
            return sock
        except TimeoutError as exc:
            sock.close()
            raise _Stage(f"timed out after {deadline.timeout:g}s (connecting)") from exc
        except OSError as exc:
            sock.close()
            error = exc
    if isinstance(error, ConnectionRefusedError):
        raise _Stage(f"connection refused by {host}:{port}")
    raise _Stage(f"cannot connect to {host}:{port}: {_reason(error)}")


def _peer(tls: ssl.SSLSocket) -> _Peer:
    leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    get_chain = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    chain = [_load(c) for c in (get_chain() or [])] if get_chain else []
    return _Peer(leaf=leaf, chain=chain or [leaf])


def _load(cert) -> x509.Certificate:
    """A certificate from the private chain API: _ssl.Certificate objects, or DER bytes."""
    der = cert if isinstance(cert, bytes) else cert.public_bytes(ssl._ssl.ENCODING_DER)
    return x509.load_der_x509_certificate(der)


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return describe(exc) if exc else "no address"


def _expires_in(days_left: float) -> str:
    if days_left < 1:
        return "certificate expires today"
    return f"certificate expires in {_days(int(days_left))}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"
