"""The probe contract (DESIGN §5): ``probe(spec, *, timeout) -> ProbeResult``.

A probe never raises: a failure comes back as ``ProbeResult(ok=False, error=...)``. It
times itself, fills only what it measured, and touches no store, registry or Flask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    duration_seconds: float
    """Wall-clock time of the whole probe, ours included."""
    latency_seconds: float | None = None
    """The target's response time: measured around the socket work only."""
    degraded: bool = False
    """Up, but worse than expected (slow, certificate expiring soon)."""
    error: str | None = None
    started_at: datetime | None = None
    http_status_code: int | None = None
    http_content_length: int | None = None
    ssl_earliest_cert_expiry: float | None = None
    """Unix time at which the earliest certificate in the chain expires."""
    dns_lookup_time_seconds: float | None = None


Probe = Callable[..., ProbeResult]


class Deadline:
    """A hard deadline for one probe: every blocking step gets what is left of it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expires = time.monotonic() + timeout

    def remaining(self) -> float:
        """Seconds left; raises TimeoutError once there are none."""
        left = self.expires - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {self.timeout:g}s")
        return left


def failure(error: str, started: float, **measured) -> ProbeResult:
    """A failed result, timed from ``started`` (a time.perf_counter() value)."""
    return ProbeResult(
        ok=False, duration_seconds=time.perf_counter() - started, error=error, **measured
    )


def describe(exc: BaseException) -> str:
    """A short, stable error text: no tracebacks, no memory addresses."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError) and "timed out" not in text:
        text = f"timed out ({text})"
    return text.splitlines()[0][:300]


def error_text(exc: BaseException, timeout: float) -> str:
    """The text for an exception a probe has no words of its own for: a timeout as the
    deadline it ran out of, anything else as ``describe`` puts it."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    return describe(exc)


def run(probe: Probe, spec, *, timeout: float) -> ProbeResult:
    """Call ``probe`` and keep the contract even if it breaks it: never raise, always timed."""
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        result = probe(spec, timeout=timeout)
    except Exception as exc:  # a bug in a probe must not stop the worker
        log.exception("probe %s raised; counted as a failure", getattr(spec, "type", "?"))
        result = failure(f"internal error: {describe(exc)}", started)
    return replace(result, started_at=started_at)
