"""Heartbeats (push checks, healthchecks-style): up while /ping/<token> came in time.

Unlike the other probes this one reads what the ping endpoint stored, so the
scheduler hands it the heartbeat row; the rule itself stays pure.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from probes.base import ProbeResult
from status.config import HeartbeatProbe


def evaluate(spec: HeartbeatProbe, row, now: datetime) -> ProbeResult | None:
    """The check's result at ``now``; None while a new check still waits for its first ping."""
    started = time.perf_counter()
    allowed = timedelta(seconds=spec.period + spec.grace)
    last_ping = row.last_ping_at if row else None
    last_fail = row.last_fail_at if row else None

    def result(ok: bool, error: str | None = None) -> ProbeResult:
        return ProbeResult(ok=ok, duration_seconds=time.perf_counter() - started, error=error)

    if last_fail and (last_ping is None or last_fail >= last_ping):
        return result(False, f"failure reported at {last_fail:%Y-%m-%d %H:%M:%S} UTC")
    if last_ping is None:
        if row is None or now - row.created_at <= allowed:
            return None
        return result(False, f"no ping received since {row.created_at:%Y-%m-%d %H:%M:%S} UTC")
    if now - last_ping > allowed:
        late = int((now - last_ping).total_seconds())
        return result(False, f"last ping {late}s ago, expected every {spec.period:g}s")
    return result(True)
