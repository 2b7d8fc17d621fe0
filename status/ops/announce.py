"""Component status changes that webhooks hear of (Statuspage's ``component_update``).

What a component shows comes from its probes, its firing alerts, open incidents,
maintenance in progress and overrides (:func:`status.rules.shown_status`). Rather than
each of those writers working out what the component shows now, the clock compares
what every component shows with what was last announced (kept under one ``meta`` key)
and writes a ``component.updated`` event for each change: from any source, once.

- ``unknown`` (its probes fell silent) is not announced: Statuspage has no such status,
  and ``/api/v2`` keeps showing the last known one meanwhile.
- A component seen for the first time is noted, not announced (a new install, or a
  component added to the config, would otherwise tell every receiver "operational").
- The announced statuses are written with a compare-and-set in the events'
  transaction: of two processes that both saw a change (a lease handed over), one
  writes its events and the other's roll back.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from status.clock import utcnow
from status.config import Config
from status.models import ComponentStatus
from status.snapshot.build import current_statuses
from status.store import Store

log = logging.getLogger(__name__)
KEY = "announced_statuses"
KIND = "component.updated"


class _Lost(Exception):
    """Another process announced first: roll our events back."""


def announce_changes(store: Store, config: Config, now: datetime | None = None) -> list[str]:
    """Write an event for each component whose shown status changed since the last
    announcement; returns ``component.updated:<id>`` for each."""
    now = now or utcnow()
    shown = current_statuses(store, config, now)
    done: list[str] = []
    try:
        with store.begin() as uow:
            raw = uow.meta.value(KEY)
            announced: dict[str, str] = json.loads(raw) if raw else {}
            noted = {c: s for c, s in announced.items() if c in shown}
            for component_id, status in shown.items():
                old = announced.get(component_id)
                if status == ComponentStatus.UNKNOWN or status == old:
                    continue
                noted[component_id] = status
                if old is None:
                    continue
                uow.events.record(
                    KIND,
                    ("component", component_id),
                    at=now,
                    components=[component_id],
                    old_status=old,
                    new_status=status,
                )
                done.append(f"{KIND}:{component_id}")
            if noted != announced and not uow.meta.swap(KEY, raw, json.dumps(noted)):
                raise _Lost
    except _Lost:
        return []
    for what in done:
        log.info("announced %s", what)
    return done
