"""What a webhook receives: JSON shaped like Atlassian Statuspage's webhook payload.

- ``meta``: ``unsubscribe`` (this subscription's signed one-click link: POST to it),
  ``documentation``, ``generated_at``, ``event_id``, ``event`` (our event kind).
- ``page``: ``id`` (the Statuspage v2 API's page id), ``status_indicator``,
  ``status_description``, ``url``.
- ``incident``: the incident as /api/v2/incidents.json shows it, with its
  ``incident_updates`` (newest first); a maintenance window comes as an ``incident``
  too, with ``scheduled_for`` and ``scheduled_until`` (as Statuspage sends them).
- ``component_update`` and ``component`` (a ``component.updated`` event): the change
  (``old_status``, ``new_status``, ``created_at``) and the component as it became.
- ``verification`` (only the request that confirms a new subscription):
  ``{"challenge": ...}``, to be echoed.

One body per event and subscriber: everything but ``meta.unsubscribe`` is the same for
all subscribers of an event (:class:`EventBody`, built once per event).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from status import rules
from status.clock import utcnow
from status.config import Config
from status.snapshot import build as build_snapshot
from status.store import Store

DOCUMENTATION = "https://github.com/leitstand/leitstand/blob/main/docs/webhooks.md"
Json = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_id(site_url: str) -> str:
    """The Statuspage v2 API's page id (the same derivation as /api/v2)."""
    return hashlib.blake2b(site_url.encode(), digest_size=6).hexdigest()


class EventBody:
    """An event's payload without its per-subscriber ``meta.unsubscribe``."""

    def __init__(self, store: Store, config: Config, event, now: datetime | None = None):
        now = now or utcnow()
        snapshot = build_snapshot(store, config, now)
        indicator = snapshot.indicator(now, last_known=True)
        self.site_url = config.site.url.rstrip("/")
        self.names = {c.id: c.name for c in config.components}
        self.statuses = {v.id: v.known_status for v in snapshot.components.values()}
        self.event_id, self.kind = event.id, event.kind
        self.page = {
            "id": page_id(config.site.url),
            "status_indicator": indicator.value,
            "status_description": rules.INDICATOR_DESCRIPTIONS[indicator],
            "url": self.site_url,
        }
        self.incident: Json | None = None
        self.component: tuple[Json, Json] | None = None  # component_update, component
        if event.object_type == "component":
            self.component = self._component_update(event, snapshot.components.get(event.object_id))
        elif event.object_type == "incident":
            found = snapshot.incident(int(event.object_id))
            if found is not None:
                self.incident = self._incident(found, "incidents", found.components)
        elif event.object_type == "maintenance":
            found = snapshot.maintenance(int(event.object_id))
            if found is not None:
                self.incident = self._incident(found, "maintenance", found.components)
                self.incident["scheduled_for"] = ts(found.scheduled_for)
                self.incident["scheduled_until"] = ts(found.scheduled_until)

    def _incident(self, item, path: str, components) -> Json:
        return {
            "id": str(item.id),
            "name": item.name,
            "status": item.status,
            "impact": item.impact,
            "created_at": ts(item.created_at),
            "updated_at": ts(item.updated_at),
            "monitoring_at": ts(getattr(item, "monitoring_at", None)),
            "resolved_at": ts(getattr(item, "resolved_at", None)),
            "started_at": ts(getattr(item, "started_at", None) or item.created_at),
            "shortlink": f"{self.site_url}/{path}/{item.id}",
            "page_id": self.page["id"],
            "incident_updates": [self._update(u, item.id) for u in item.updates],
            "components": [self._component(c) for c in components],
        }

    def _component_update(self, event, view) -> tuple[Json, Json]:
        data, component_id = event.data or {}, event.object_id
        change = {
            "id": str(event.id),
            "component_id": component_id,
            "old_status": data.get("old_status"),
            "new_status": data.get("new_status"),
            "created_at": ts(event.at),
        }
        component = {
            "id": component_id,
            "name": self.names.get(component_id, component_id),
            "status": data.get("new_status"),
            "created_at": ts(view.created_at) if view else None,
            "page_id": self.page["id"],
        }
        return change, component

    def _update(self, update, parent_id: int) -> Json:
        return {
            "id": str(update.id),
            "incident_id": str(parent_id),
            "status": update.status,
            "body": update.body,
            "created_at": ts(update.created_at),
            "updated_at": ts(update.updated_at),
            "display_at": ts(update.display_at),
            "affected_components": [
                {
                    "code": a["code"],
                    "name": self.names.get(a["code"], a["code"]),
                    "old_status": a.get("old_status"),
                    "new_status": a.get("new_status"),
                }
                for a in update.affected_components
            ]
            or None,
        }

    def _component(self, component_id: str) -> Json:
        return {
            "id": component_id,
            "name": self.names.get(component_id, component_id),
            "status": self.statuses.get(component_id, "operational"),
            "page_id": self.page["id"],
        }

    def meta(self, unsubscribe: str) -> Json:
        return {
            "unsubscribe": unsubscribe,
            "documentation": DOCUMENTATION,
            "generated_at": ts(utcnow()),
            "event_id": self.event_id,
            "event": self.kind,
        }

    def body(self, unsubscribe: str) -> bytes:
        """The JSON bytes for one subscriber (compact, UTF-8)."""
        payload = {"meta": self.meta(unsubscribe), "page": self.page}
        if self.incident is not None:
            payload["incident"] = self.incident
        if self.component is not None:
            payload["component_update"], payload["component"] = self.component
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def verification(config: Config, event_id: int, challenge: str, unsubscribe: str) -> bytes:
    """The request that confirms a new subscription: echo ``verification.challenge``."""
    payload = {
        "meta": {
            "unsubscribe": unsubscribe,
            "documentation": DOCUMENTATION,
            "generated_at": ts(utcnow()),
            "event_id": event_id,
            "event": "subscriber.confirm_requested",
        },
        "page": {"id": page_id(config.site.url), "url": config.site.url.rstrip("/")},
        "verification": {"challenge": challenge},
    }
    return json.dumps(payload, separators=(",", ":")).encode()
