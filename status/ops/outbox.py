"""The operator's command on the delivery outbox: send an event's failed rows again (the
console's retry button). Audited like every other command."""

from __future__ import annotations

from datetime import datetime

from status.clock import utcnow
from status.ops import audit
from status.ops.actor import Actor
from status.ops.errors import NotFound
from status.store import Store


def retry_failed(store: Store, actor: Actor, event_id: int, *, at: datetime | None = None) -> int:
    """Put the event's failed rows back in line, due now, with a fresh maximum age;
    returns how many. :class:`NotFound` when the event has no failed row."""
    at = at or utcnow()
    with store.begin() as uow:
        retried = uow.outbox.retry_failed(event_id, at)
        if not retried:
            raise NotFound(f"event {event_id} has no failed delivery")
        audit.record(uow, actor, "outbox.retry", ("event", event_id), at, rows=retried)
    return retried
