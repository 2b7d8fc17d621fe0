"""The incident history as Atom and RSS feeds, in Atlassian Statuspage's format.

One entry per incident and per maintenance window, the most recently updated first.
Entry ids are tag URIs (``tag:<host>,2005:Incident/<id>``) exactly as Statuspage makes
them, so a reader switching from a Statuspage page to ours sees the same kind of ids.
The content lists every update, newest first:
``<p><small>Nov 24, 13:05 CET</small><br><strong>Resolved</strong> - body</p>``.

Update bodies are Markdown written by operators; here they are escaped as text, never
passed through as HTML. Everything is rendered from a :class:`~status.snapshot.Snapshot`
alone (no database, no request), so one render serves every request for that snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from status.snapshot import Incident, Maintenance, Snapshot, Update

MAX_ENTRIES = 50
TAG_DATE = "2005"  # the date in Statuspage's tag URIs; part of every id, never change it
EMPTY_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Entry:
    kind: str  # "Incident" or "Maintenance", as in the tag URI
    path: str  # "incidents" or "maintenance", as in the public URL
    item: Incident | Maintenance

    @property
    def updated(self) -> datetime:
        """When the entry last changed: its newest update, or the item itself."""
        return max([self.item.updated_at, *(u.updated_at for u in self.item.updates)])


def host(site_url: str) -> str:
    """The DNS name of the public site, the authority of every tag URI."""
    return urlsplit(site_url).hostname or "localhost"


def incident_components(incident: Incident) -> set[str]:
    """Every component an incident touched, including ones since taken off it."""
    touched = set(incident.components)
    for update in incident.updates:
        touched.update(a.get("code") for a in update.affected_components if a.get("code"))
    return touched


def entries(snapshot: Snapshot, component: str | None = None) -> list[Entry]:
    """The feed's entries, most recently updated first; only those touching ``component``."""
    found = [
        Entry("Incident", "incidents", i)
        for i in snapshot.incidents
        if component is None or component in incident_components(i)
    ]
    found += [
        Entry("Maintenance", "maintenance", m)
        for m in snapshot.maintenances
        if component is None or component in m.components
    ]
    found.sort(key=lambda e: (e.updated, e.kind, e.item.id), reverse=True)
    return found[:MAX_ENTRIES]


def local_time(at: datetime, tz: ZoneInfo) -> str:
    """``Nov 24, 13:05 CET``: the site's local time, independent of the process locale."""
    local = at.astimezone(tz)
    return f"{_day(local)}, {local:%H:%M} {local.tzname()}"


def window(maintenance: Maintenance, tz: ZoneInfo) -> str:
    """``Nov 26, 02:00 - 04:00 CET``; both dates when it spans midnight or a DST change."""
    start = maintenance.scheduled_for.astimezone(tz)
    end = maintenance.scheduled_until.astimezone(tz)
    if start.date() == end.date() and start.tzname() == end.tzname():
        return f"{_day(start)}, {start:%H:%M} - {end:%H:%M} {end.tzname()}"
    return f"{local_time(start, tz)} - {local_time(end, tz)}"


def _day(local: datetime) -> str:
    return f"{MONTHS[local.month - 1]} {local.day}"


def status_label(status: str) -> str:
    """``in_progress`` -> ``In progress``."""
    return status.replace("_", " ").capitalize()


def update_html(update: Update, tz: ZoneInfo) -> str:
    body = escape(update.body).replace("\r\n", "\n").replace("\n", "<br>")
    return (
        f"<p><small>{local_time(update.display_at, tz)}</small><br>"
        f"<strong>{escape(status_label(update.status))}</strong> - {body}</p>"
    )


def content_html(entry: Entry, snapshot: Snapshot) -> str:
    """Every update, newest first; maintenance opens with its window, like Statuspage."""
    tz = snapshot.config.site.tz
    item = entry.item
    parts = []
    if isinstance(item, Maintenance):
        parts.append(f"<p><strong>THIS IS A SCHEDULED EVENT {window(item, tz)}</strong></p>")
    parts += [update_html(u, tz) for u in item.updates]
    touched = incident_components(item) if isinstance(item, Incident) else set(item.components)
    names = snapshot.component_names(touched)
    if names:
        what = "incident" if isinstance(item, Incident) else "scheduled maintenance"
        parts.append(f"<p>This {what} affected: {escape(', '.join(names))}.</p>")
    return "".join(parts)


def build(snapshot: Snapshot, fmt: str, component: str | None = None) -> FeedGenerator:
    site = snapshot.config.site
    authority = host(site.url)
    query = f"?component={quote(component)}" if component else ""
    title = f"{site.title} - Incident History"
    if component:
        view = snapshot.components.get(component)
        title = f"{site.title} - {view.config.name if view else component} Incident History"
    selected = entries(snapshot, component)

    fg = FeedGenerator()
    fg.id(f"tag:{authority},{TAG_DATE}:/history{query}")
    fg.title(title)
    mimetype = "application/atom+xml" if fmt == "atom" else "application/rss+xml"
    fg.link(href=f"{site.url}/history.{fmt}{query}", rel="self", type=mimetype)
    # feedgen makes the last link the RSS <link>: the page, not the feed itself.
    fg.link(href=f"{site.url}/history", rel="alternate", type="text/html")
    fg.description(f"Incidents and maintenance of {site.title}")
    fg.author(name=site.title, uri=site.url)
    fg.language("en")
    fg.generator("Leitstand")
    # Times from the data only, never the clock: an unchanged history keeps its bytes and
    # so its ETag across snapshot rebuilds. Atom needs <updated> even with no entries.
    fg.updated(selected[0].updated if selected else EMPTY_UPDATED)
    for entry in selected:
        item = entry.item
        fe = fg.add_entry(order="append")
        fe.id(f"tag:{authority},{TAG_DATE}:{entry.kind}/{item.id}")
        fe.title(item.name)
        fe.link(href=f"{site.url}/{entry.path}/{item.id}", rel="alternate", type="text/html")
        fe.published(item.created_at)
        fe.updated(entry.updated)
        html = content_html(entry, snapshot)
        if fmt == "atom":
            fe.content(html, type="html")
        else:
            fe.description(html)
    return fg


def render_atom(snapshot: Snapshot, component: str | None = None) -> bytes:
    """``/history.atom``: Atom 1.0."""
    return build(snapshot, "atom", component).atom_str(pretty=True)


def render_rss(snapshot: Snapshot, component: str | None = None) -> bytes:
    """``/history.rss``: RSS 2.0."""
    return build(snapshot, "rss", component).rss_str(pretty=True)
