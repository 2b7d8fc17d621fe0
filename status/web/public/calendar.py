"""The maintenance calendar: ``/maintenance.ics``, an iCalendar (RFC 5545) to subscribe to.

One VEVENT per maintenance window, upcoming and recent (windows that ended within
:data:`RECENT_DAYS`). Calendar clients match events by UID and take the one with the
higher SEQUENCE, so the UID is fixed per window (``maintenance-<id>@<host>``) and the
SEQUENCE is the window's own counter, bumped by every update the store records. A
cancelled window stays in the calendar with ``STATUS:CANCELLED`` so subscribers see it
go away instead of silently keeping a stale copy.

There is no ``METHOD``, so ``DTSTAMP`` is the window's last change (RFC 5545 3.8.7.2):
an unchanged calendar renders to the same bytes and keeps its ETag.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from icalendar import Calendar, Event, vDuration

from status.snapshot import Maintenance, Snapshot
from status.web.public.feeds import host

RECENT_DAYS = 90
REFRESH = timedelta(hours=1)  # how often clients should fetch again (a hint; most obey)
PRODID = "-//Leitstand//Maintenance calendar//EN"


def windows(snapshot: Snapshot, component: str | None = None) -> list[Maintenance]:
    """The windows in the calendar, earliest first."""
    since = snapshot.built_at - timedelta(days=RECENT_DAYS)
    return sorted(
        (
            m
            for m in snapshot.maintenances
            if m.scheduled_until >= since and (component is None or component in m.components)
        ),
        key=lambda m: (m.scheduled_for, m.id),
    )


def description(maintenance: Maintenance, snapshot: Snapshot) -> str:
    """The latest update's text, then the affected components."""
    parts = [maintenance.updates[0].body] if maintenance.updates else []
    names = snapshot.component_names(maintenance.components)
    if names:
        parts.append("Affected components: " + ", ".join(names))
    return "\n\n".join(parts)


def event(maintenance: Maintenance, snapshot: Snapshot) -> Event:
    site = snapshot.config.site
    m = maintenance
    last_change = max([m.updated_at, *(u.updated_at for u in m.updates)])
    ev = Event()
    ev.add("uid", f"maintenance-{m.id}@{host(site.url)}")
    ev.add("dtstamp", last_change)
    ev.add("created", m.created_at)
    ev.add("last-modified", last_change)
    ev.add("dtstart", m.scheduled_for)
    ev.add("dtend", m.scheduled_until)
    ev.add("summary", m.name)
    ev.add("description", description(m, snapshot))
    ev.add("url", f"{site.url}/maintenance/{m.id}")
    ev.add("sequence", m.sequence)
    ev.add("status", "CANCELLED" if m.cancelled_at else "CONFIRMED")
    ev.add("transp", "TRANSPARENT")  # maintenance does not make the subscriber busy
    return ev


def render_ics(snapshot: Snapshot, component: str | None = None) -> bytes:
    """``/maintenance.ics`` (optionally only windows touching ``component``)."""
    site = snapshot.config.site
    name = f"{site.title} - Maintenance"
    query = ""
    if component:
        view = snapshot.components.get(component)
        name = f"{site.title} - {view.config.name if view else component} Maintenance"
        query = f"?component={quote(component)}"
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("x-wr-caldesc", f"Scheduled maintenance of {site.title}")
    cal.add("source", f"{site.url}/maintenance.ics{query}", parameters={"VALUE": "URI"})
    cal.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    for m in windows(snapshot, component):
        cal.add_component(event(m, snapshot))
    return cal.to_ical()
