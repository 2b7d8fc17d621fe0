"""What a notification says about an event: a :class:`Notice`, the same for every
channel and every subscriber of one language.

The text is the update's own body, exactly as the public page and the feeds show it;
the status words are the public page's (same catalogue entries, en + de).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from status import i18n
from status.config import Config
from status.rules import N_
from status.store import Store

INCIDENT_STATUS = {
    "investigating": N_("Investigating"),
    "identified": N_("Identified"),
    "monitoring": N_("Monitoring"),
    "resolved": N_("Resolved"),
    "postmortem": N_("Postmortem"),
}
MAINTENANCE_STATUS = {
    "scheduled": N_("Scheduled"),
    "in_progress": N_("In Progress"),
    "verifying": N_("Verifying"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}
COMPONENT_STATUS = {  # the public page's words (status.web.labels)
    "operational": N_("Operational"),
    "degraded_performance": N_("Degraded Performance"),
    "partial_outage": N_("Partial Outage"),
    "major_outage": N_("Major Outage"),
    "under_maintenance": N_("Under Maintenance"),
}
# What a maintenance event says in the subject, where its status would not.
MAINTENANCE_KIND = {
    "maintenance.reminder": N_("Starting soon"),
    "maintenance.rescheduled": N_("Rescheduled"),
    "maintenance.cancelled": N_("Cancelled"),
}


ONE_PERSON = "subscriber."
COMPONENT_UPDATED = "component.updated"
NOTIFYING = ("incident.", "maintenance.", ONE_PERSON, COMPONENT_UPDATED)
"""The event kinds subscribers hear of (by prefix); overrides, for one, stay internal.
A ``subscriber.*`` event is a mail to ``data.subscriber_id`` alone (the lifecycle's)."""
ONLY_BY = {COMPONENT_UPDATED: ("webhook",)}
"""Kinds only some channels hear of. A component's status changes reach webhooks (as
Statuspage's ``component_update``), not inboxes: people read incidents."""
PERSONAL = {
    # kind: (the mail's template, its heading, the state its recipient must be in)
    "subscriber.confirm_requested": ("confirm", N_("Confirm your subscription"), "pending"),
    "subscriber.manage_requested": ("manage", N_("Your subscription"), "confirmed"),
}


def recipient_state(kind: str) -> str | None:
    """The state a subscriber must be in to get this kind's mail (None: nobody)."""
    if kind.startswith(ONE_PERSON):
        return PERSONAL[kind][2] if kind in PERSONAL else None
    return "confirmed"


@dataclass(frozen=True)
class Notice:
    event_id: int
    kind: str  # incident.opened, maintenance.reminder, ...
    language: str
    site_title: str
    site_url: str
    name: str  # the incident's or window's name, on one line
    status_label: str  # "Investigating" / "Untersuchung"
    body: str  # the update's text, as the page shows it ("" when the event has none)
    when: str  # the event's time, local to the site
    url: str  # the incident's or window's public page
    components: tuple[str, ...]  # names
    window: str = ""  # maintenance: start - end, local
    template: str = "notification"  # templates/emails/<template>.{txt,html}

    @property
    def subject(self) -> str:
        """``[Example Cloud Status] Investigating: Calls failing in EU``; a mail to one
        person has no name: ``[Example Cloud Status] Confirm your subscription``."""
        if not self.name:
            return f"[{self.site_title}] {self.status_label}"
        return f"[{self.site_title}] {self.status_label}: {self.name}"

    @property
    def domain(self) -> str:
        return urlsplit(self.site_url).hostname or "localhost"


def one_line(text: str) -> str:
    """Any run of whitespace (CR and LF included) as one space: nothing typed into a
    name can start a new header line."""
    return " ".join(text.split())


def build(store: Store, config: Config, event, language: str) -> Notice | None:
    """The notice of ``event`` (an events row) in ``language``; None when what it is about
    is gone (deleted since)."""
    site, tz = config.site, config.site.tz
    if event.kind.startswith(ONE_PERSON):
        return _personal(config, event, language)
    if event.object_type == "component":
        return _component(config, event, language)
    if event.object_type == "incident":
        found = store.incidents.one(int(event.object_id))
        path, words = "incidents", INCIDENT_STATUS
    else:
        found = store.maintenance.one(int(event.object_id))
        path, words = "maintenance", MAINTENANCE_STATUS
    if found is None:
        return None
    item, updates, _components = found
    update = _update_of(event, updates)
    status = update.status if update is not None else item.status
    label = MAINTENANCE_KIND.get(event.kind) or words.get(status) or status
    window = ""
    if event.object_type == "maintenance":
        start = i18n.format_when(item.scheduled_for, tz, language)
        window = f"{start} - {i18n.format_when(item.scheduled_until, tz, language)}"
    names = [(c.name if (c := config.component(cid)) else cid) for cid in event.components]
    return _notice(
        config,
        event,
        language,
        name=one_line(item.name),
        status_label=i18n.translate(label, language),
        body=update.body if update is not None else "",
        url=f"{site.url}/{path}/{item.id}",
        components=tuple(names),
        window=window,
    )


def _notice(config: Config, event, language: str, **about) -> Notice:
    """A notice of ``event``: the site's and the event's fields, and what it is ``about``."""
    site = config.site
    return Notice(
        event_id=event.id,
        kind=event.kind,
        language=language,
        site_title=one_line(site.title),
        site_url=site.url,
        when=i18n.format_when(event.at, site.tz, language),
        **about,
    )


def _personal(config: Config, event, language: str) -> Notice | None:
    """A mail to one person about their subscription (its link is the recipient's)."""
    if event.kind not in PERSONAL:
        return None
    template, heading, _state = PERSONAL[event.kind]
    return _notice(
        config,
        event,
        language,
        name="",
        status_label=i18n.translate(heading, language),
        body="",
        url=config.site.url,
        components=(),
        template=template,
    )


def _component(config: Config, event, language: str) -> Notice | None:
    """A component's new status (``component.updated``: webhooks only, see ONLY_BY)."""
    component = config.component(event.object_id)
    if component is None:
        return None  # gone from the config since
    status = (event.data or {}).get("new_status", "")
    return _notice(
        config,
        event,
        language,
        name=one_line(component.name),
        status_label=i18n.translate(COMPONENT_STATUS.get(status, status), language),
        body="",
        url=config.site.url,
        components=(one_line(component.name),),
    )


def _update_of(event, updates):
    """The update the event announced: named by the event, else the one posted with it."""
    update_id = (event.data or {}).get("update_id")
    for update in updates:
        if update_id is not None and update.id == update_id:
            return update
    if update_id is None:
        for update in updates:  # newest first
            if update.created_at == event.at:
                return update
    return None
