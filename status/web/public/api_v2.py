"""The Statuspage v2 JSON API: Atlassian's public documents, field for field (DESIGN §4).

Widgets, exporters and aggregators written for Atlassian Statuspage read these URLs
unchanged, so the field names, types, nullability and vocabularies are Atlassian's. Every
document is rendered from the public snapshot, once per snapshot (and minute, where the
clock matters), and served through :func:`status.web.public.cache.cached` with an ETag and a
304 — a request never reaches the database.

Where our data differs from Atlassian's model: component ids are the config slugs;
incident and maintenance ids are our numeric ids as strings (the same as in their public
URLs); a component we have no data for reports the last status known (the API has no
"no data"), and the page indicator counts it the same way; groups are component objects
with ``group: true`` whose status is the worst of their children's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from status import rules
from status.clock import utcnow
from status.models import ComponentStatus, Indicator
from status.rules import INDICATOR_DESCRIPTIONS
from status.snapshot import RECENT, Incident, Maintenance, Snapshot
from status.snapshot import Update as SnapshotUpdate
from status.web.public.cache import cached

bp = Blueprint("api_v2", __name__, url_prefix="/api/v2")

MIMETYPE = "application/json"
# Public, read-only data: any web page may embed it (Atlassian's answers say the same).
CORS = {"Access-Control-Allow-Origin": "*"}

# Statuspage's five: our "unknown" (no data) is not among them.
API_STATUSES = {s.value for s in rules.SEVERITY if s != ComponentStatus.UNKNOWN}

Json = dict[str, Any]


def page_id(site_url: str) -> str:
    """A stable, opaque page id (12 characters, like Atlassian's) derived from the URL."""
    return hashlib.blake2b(site_url.encode(), digest_size=6).hexdigest()


class Document:
    """Builds the Atlassian-shaped objects of one snapshot at one moment."""

    def __init__(self, snapshot: Snapshot, now: datetime) -> None:
        self.snapshot = snapshot
        self.now = now
        self.site = snapshot.config.site
        self.tz = self.site.tz
        self.page_id = page_id(self.site.url)
        self.components = self._components()
        self.by_id = {c["id"]: c for c in self.components if not c["group"]}

    # -- values --------------------------------------------------------------------------
    def ts(self, value: datetime | None) -> str | None:
        """ISO 8601 with milliseconds and the site's offset, as Atlassian writes them."""
        if value is None:
            return None
        return value.astimezone(self.tz).isoformat(timespec="milliseconds")

    # -- page and status -----------------------------------------------------------------
    def page(self) -> Json:
        return {
            "id": self.page_id,
            "name": self.site.title,
            "url": self.site.url,
            "time_zone": self.site.timezone,
            "updated_at": self.ts(self.snapshot.updated_at),
        }

    def status(self) -> Json:
        indicator = Indicator(self.snapshot.indicator(self.now, last_known=True))
        return {"indicator": indicator.value, "description": INDICATOR_DESCRIPTIONS[indicator]}

    # -- components ----------------------------------------------------------------------
    def _components(self) -> list[Json]:
        """Page order: each group followed by its children, ungrouped components last.

        Positions count per level, as Atlassian's do: groups and ungrouped components
        1..n, each group's children 1..k.
        """
        out: list[Json] = []
        top = 0
        for group, views in self.snapshot.sections():
            children = []
            for n, view in enumerate(views, start=1):
                config = view.config
                children.append(
                    self._component_object(
                        id=config.id,
                        name=config.name,
                        status=_api_status(view.known_status),
                        created_at=view.created_at,
                        updated_at=view.updated_at,
                        position=n if group else top + n,
                        description=config.description,
                        showcase=config.showcase,
                        start_date=self._start_date(view.first_seen),
                        group_id=config.group,
                        group=False,
                        only_show_if_degraded=config.only_show_if_degraded,
                    )
                )
            if group is None:
                out += children
                continue
            top += 1
            out.append(
                {
                    **self._component_object(
                        id=group.id,
                        name=group.name,
                        status=rules.worst(c["status"] for c in children),
                        created_at=min(v.created_at for v in views),
                        updated_at=max(v.updated_at for v in views),
                        position=top,
                        description=group.description,
                        showcase=False,
                        start_date=None,
                        group_id=None,
                        group=True,
                        only_show_if_degraded=False,
                    ),
                    "components": [c["id"] for c in children],
                }
            )
            out += children
        return out

    def _component_object(
        self, *, created_at: datetime, updated_at: datetime, description: str, **fields: Any
    ) -> Json:
        return {
            "id": fields["id"],
            "name": fields["name"],
            "status": fields["status"],
            "created_at": self.ts(created_at),
            "updated_at": self.ts(updated_at),
            "position": fields["position"],
            "description": description or None,
            "showcase": fields["showcase"],
            "start_date": fields["start_date"],
            "group_id": fields["group_id"],
            "page_id": self.page_id,
            "group": fields["group"],
            "only_show_if_degraded": fields["only_show_if_degraded"],
        }

    def _start_date(self, first_seen: datetime | None) -> str | None:
        if first_seen is None:
            return None  # never recorded: no start yet
        return first_seen.astimezone(self.tz).date().isoformat()

    def _component_list(self, ids) -> list[Json]:
        wanted = set(ids)
        return [c for c in self.by_id.values() if c["id"] in wanted]

    # -- incidents and maintenance -------------------------------------------------------
    def incident(self, incident: Incident) -> Json:
        return {
            "id": str(incident.id),
            "name": incident.name,
            "status": incident.status,
            "created_at": self.ts(incident.created_at),
            "updated_at": self.ts(incident.updated_at),
            "monitoring_at": self.ts(incident.monitoring_at),
            "resolved_at": self.ts(incident.resolved_at),
            "impact": incident.impact,
            "shortlink": f"{self.site.url}/incidents/{incident.id}",
            "started_at": self.ts(incident.started_at),
            "page_id": self.page_id,
            "incident_updates": [self.update(u, incident.id) for u in incident.updates],
            "components": self._component_list(incident.components),
        }

    def maintenance(self, m: Maintenance) -> Json:
        status = "completed" if m.cancelled_at else m.effective_status(self.now)
        started_at, resolved_at, updated_at = m.started_at, m.completed_at, m.updated_at
        if not m.cancelled_at and m.status == "scheduled" and status != "scheduled":
            started_at = started_at or m.scheduled_for  # started on time, by the clock
            updated_at = max(updated_at, m.scheduled_for)
        if status == "completed" and resolved_at is None:
            resolved_at = m.cancelled_at or m.scheduled_until  # cancelled, or ended on time
            updated_at = max(updated_at, resolved_at)
        return {
            "id": str(m.id),
            "name": m.name,
            "status": status,
            "created_at": self.ts(m.created_at),
            "updated_at": self.ts(updated_at),
            "monitoring_at": None,
            "resolved_at": self.ts(resolved_at),
            "impact": m.impact,
            "shortlink": f"{self.site.url}/maintenance/{m.id}",
            "started_at": self.ts(started_at or m.created_at),
            "page_id": self.page_id,
            "scheduled_for": self.ts(m.scheduled_for),
            "scheduled_until": self.ts(m.scheduled_until),
            "incident_updates": [self.update(u, m.id) for u in m.updates],
            "components": self._component_list(m.components),
        }

    def update(self, update: SnapshotUpdate, parent_id: int) -> Json:
        affected = [
            {
                "code": a["code"],
                "name": self._name(a["code"]),
                "old_status": _api_status(a.get("old_status")),
                "new_status": _api_status(a.get("new_status")),
            }
            for a in update.affected_components
        ]
        return {
            "id": str(update.id),
            "status": update.status,
            "body": update.body,
            "incident_id": str(parent_id),
            "created_at": self.ts(update.created_at),
            "updated_at": self.ts(update.updated_at),
            "display_at": self.ts(update.display_at),
            "affected_components": affected or None,
            "deliver_notifications": update.deliver_notifications,
            "custom_tweet": None,
            "tweet_id": None,
        }

    def _name(self, component_id: str) -> str:
        component = self.by_id.get(component_id)
        return component["name"] if component else component_id  # removed from the config

    # -- the documents -------------------------------------------------------------------
    def recent_incidents(self) -> list[Json]:
        return [self.incident(i) for i in self.snapshot.incidents[:RECENT]]

    def unresolved_incidents(self) -> list[Json]:
        return [self.incident(i) for i in self.snapshot.unresolved()]

    def recent_maintenances(self) -> list[Json]:
        return [self.maintenance(m) for m in self.snapshot.maintenances[:RECENT]]

    def upcoming_maintenances(self) -> list[Json]:
        return [self.maintenance(m) for m in self.snapshot.upcoming_maintenances(self.now)]

    def active_maintenances(self) -> list[Json]:
        return [self.maintenance(m) for m in self.snapshot.active_maintenances(self.now)]

    def summary(self) -> Json:
        return {
            "page": self.page(),
            "components": self.components,
            "incidents": self.unresolved_incidents(),
            "scheduled_maintenances": self.active_maintenances() + self.upcoming_maintenances(),
            "status": self.status(),
        }


def _api_status(status: str | None) -> str:
    """Our "unknown" (and anything foreign) is not a Statuspage status: say operational."""
    return status if status in API_STATUSES else ComponentStatus.OPERATIONAL.value


# -- routes ------------------------------------------------------------------------------
def _serve(name: str, build: Callable[[Document], Json], *, clocked: bool = False) -> Response:
    """Answer from the snapshot; ``clocked`` documents also change when the minute does."""
    now = utcnow().replace(second=0, microsecond=0)

    def render(snapshot: Snapshot) -> str:
        document = Document(snapshot, now if clocked else snapshot.built_at)
        return json.dumps(build(document), ensure_ascii=False, separators=(",", ":"))

    key = ("api_v2", name, now) if clocked else ("api_v2", name)
    return cached(key, render, MIMETYPE, headers=CORS)


def _page_and(key: str, items: Callable[[Document], Any]) -> Callable[[Document], Json]:
    return lambda d: {"page": d.page(), key: items(d)}


@bp.get("/summary.json")
def summary() -> Response:
    return _serve("summary", Document.summary, clocked=True)


@bp.get("/status.json")
def status() -> Response:
    return _serve("status", _page_and("status", Document.status), clocked=True)


@bp.get("/components.json")
def components() -> Response:
    return _serve("components", _page_and("components", lambda d: d.components))


@bp.get("/incidents.json")
def incidents() -> Response:
    return _serve("incidents", _page_and("incidents", Document.recent_incidents))


@bp.get("/incidents/unresolved.json")
def unresolved_incidents() -> Response:
    return _serve("unresolved", _page_and("incidents", Document.unresolved_incidents))


@bp.get("/scheduled-maintenances.json")
def scheduled_maintenances() -> Response:
    build = _page_and("scheduled_maintenances", Document.recent_maintenances)
    return _serve("maintenances", build, clocked=True)


@bp.get("/scheduled-maintenances/upcoming.json")
def upcoming_maintenances() -> Response:
    build = _page_and("scheduled_maintenances", Document.upcoming_maintenances)
    return _serve("upcoming", build, clocked=True)


@bp.get("/scheduled-maintenances/active.json")
def active_maintenances() -> Response:
    build = _page_and("scheduled_maintenances", Document.active_maintenances)
    return _serve("active", build, clocked=True)
