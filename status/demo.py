"""The demo: the all-in-one process running the shipped ``status.example.yaml``.

The example's Call Recording is a heartbeat, pinged by the archiver a real cloud would
run. A demo has no archiver, so about eight minutes after ``make run`` the component
turned into a major outage, with no incident and nobody having broken anything. When
the all-in-one process runs the shipped example file, and only then, it plays that job
itself: it pings the file's heartbeats at half their period. Any other file is left
alone, a copy of the example included: there the real job must call ``/ping/<token>``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from status.clock import utcnow
from status.config import Config
from status.store import Store

log = logging.getLogger(__name__)

EXAMPLE = Path(__file__).resolve().parent.parent / "status.example.yaml"
IDLE = 60.0
"""Seconds between looks at a config without heartbeats (it may gain one on reload)."""


def is_example(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the shipped example file (the demo), not a copy of it."""
    return Path(path).resolve() == EXAMPLE


class DemoJobs:
    """Pings the heartbeats of the config, as the example cloud's jobs would."""

    def __init__(self, store: Store, config: Callable[[], Config]) -> None:
        self.store = store
        self.config = config

    def ping(self, now: datetime) -> float:
        """Ping every heartbeat at ``now``; returns the seconds until the next round."""
        periods = heartbeats(self.config())
        if not periods:
            return IDLE
        for token in self.store.heartbeats.tokens(periods).values():
            self.store.heartbeats.ping(token, at=now)
        return min(periods.values()) / 2

    def run(self, stopping: threading.Event) -> None:
        """A supervised worker: ping until stopped."""
        wait = self.ping(utcnow())
        log.info(
            "demo: pinging %s every %.0fs, as the example's jobs would (yours call /ping/<token>)",
            ", ".join(f"{c}/{p}" for c, p in heartbeats(self.config())) or "no heartbeat",
            wait,
        )
        while not stopping.wait(wait):
            wait = self.ping(utcnow())


def heartbeats(config: Config) -> dict[tuple[str, str], float]:
    """(component, probe) -> period of every heartbeat check in ``config``."""
    checks = [(c.id, p) for c in config.components for p in c.probes]
    return {(cid, p.key): p.period for cid, p in checks if p.type == "heartbeat"}
