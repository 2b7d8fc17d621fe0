"""Background jobs any process may run; a lease makes one of them do the work at a time.

The clock (:func:`clock_worker`) runs in the all-in-one process and in every probe
worker: whichever holds the ``clock`` lease moves maintenance windows and expires
overrides once a second, and announces component status changes (status.ops.announce)
when the data changed, or every :data:`RECHECK` seconds; when it dies, another takes the
lease within five seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from status.config import Config
from status.ops import announce, clock
from status.store import Store

log = logging.getLogger(__name__)
LEASE = "clock"
RECHECK = 30.0  # seconds: a config change (a component added) needs no data change


def holder_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def clock_worker(
    store: Store,
    config: Callable[[], Config],
    *,
    holder: str | None = None,
    every: float = 1.0,
    lease_seconds: float = 5.0,
) -> Callable[[threading.Event], None]:
    holder = holder or holder_name("clock")

    def run(stopping: threading.Event) -> None:
        seen, checked_at = None, float("-inf")  # the data version last announced, when
        while not stopping.wait(every):
            try:
                if LEASE in store.leases.claim([LEASE], holder, ttl=lease_seconds):
                    current = config()
                    clock.tick(
                        store,
                        language=current.site.languages[0],
                        audit_days=current.retention.audit_days,
                        unconfirmed_days=current.subscriptions.unconfirmed_days,
                    )
                    version = store.meta.data_version()
                    if version != seen or time.monotonic() - checked_at >= RECHECK:
                        announce.announce_changes(store, current)
                        seen, checked_at = version, time.monotonic()
            except Exception:  # the database may be away: the next second tries again
                log.exception("clock: could not run; trying again")
        store.leases.release([LEASE], holder)

    return run
