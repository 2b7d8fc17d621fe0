"""The TCP probe: connect, and optionally send a line and wait for an expected reply.

``latency_seconds`` is the connect time plus, with ``send``/``expect``, the round trip
from sending until the expected text arrived. Every blocking step gets what is left of
the deadline; only the DNS lookup inside ``socket.create_connection`` cannot be bounded.
"""

from __future__ import annotations

import socket
import time

from probes.base import Deadline, ProbeResult, describe, failure
from status.config import TcpProbe

RECEIVE_LIMIT = 64 * 1024
"""Stop waiting for ``expect`` after this many bytes: the reply is not coming."""


def probe(spec: TcpProbe, *, timeout: float) -> ProbeResult:
    """Connect to ``spec.host:spec.port`` (and talk, if asked) within ``timeout`` (DESIGN §5)."""
    started = time.perf_counter()
    received = bytearray()
    waiting = False  # for the expected reply, which changes what a timeout means
    try:
        deadline = Deadline(timeout)
        begin = time.perf_counter()
        with socket.create_connection((spec.host, spec.port), deadline.remaining()) as sock:
            latency = time.perf_counter() - begin
            begin = time.perf_counter()
            if spec.send is not None:
                sock.settimeout(deadline.remaining())
                sock.sendall(_line(spec.send))
            if spec.expect is not None:
                waiting = True
                found = _receive_until(sock, spec.expect.encode(), received, deadline)
                waiting = False
                if not found:
                    return failure(
                        f"expected {quote(spec.expect)}, received {_shown(received)}",
                        started,
                        latency_seconds=latency,
                    )
            if spec.send is not None or spec.expect is not None:
                latency += time.perf_counter() - begin
    except TimeoutError as exc:
        error = socket_error(exc, timeout)
        if waiting:
            error += f" waiting for {quote(spec.expect)}"
            if received:
                error += f", received {_shown(received)}"
        return failure(error, started)
    except Exception as exc:
        return failure(socket_error(exc, timeout), started)
    return ProbeResult(
        ok=True, duration_seconds=time.perf_counter() - started, latency_seconds=latency
    )


def socket_error(exc: BaseException, timeout: float) -> str:
    """What went wrong with a socket, said for a status page (also used by the HTTP probe)."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return describe(exc)


def quote(text: str, limit: int = 60) -> str:
    """``text`` in quotes, shortened to about ``limit`` characters, control characters escaped."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _line(text: str) -> bytes:
    # Line protocols (Redis, SMTP, memcached) act only once the line is complete.
    return (text if text.endswith("\n") else text + "\r\n").encode()


def _receive_until(
    sock: socket.socket, expected: bytes, received: bytearray, deadline: Deadline
) -> bool:
    """Read into ``received`` until ``expected`` is in it: False at end of stream or limit."""
    while len(received) < RECEIVE_LIMIT:
        sock.settimeout(deadline.remaining())
        chunk = sock.recv(min(4096, RECEIVE_LIMIT - len(received)))
        if not chunk:
            return False
        received += chunk
        if expected in received:
            return True
    return False


def _shown(received: bytes) -> str:
    if not received:
        return "nothing (connection closed)"
    text = received.decode("utf-8", "replace")
    return quote(text.strip() or text)
