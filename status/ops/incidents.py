"""Open, update and resolve incidents: each with its timeline entry, its event for the
public and subscribers, and its audit entry, in one unit of work."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from status import rules
from status.clock import utcnow
from status.models import ComponentStatus, Impact, IncidentStatus
from status.ops import audit, validate
from status.ops.actor import Actor
from status.ops.errors import Conflict, Invalid, NotFound
from status.store import Store, UnitOfWork

MAX_NAME, MAX_BODY = 300, 20_000


def open_incident(
    store: Store,
    actor: Actor,
    *,
    name: str,
    status: str,
    impact: str,
    body: str,
    components: dict[str, str] | None = None,
    at: datetime | None = None,
    notify: bool = True,
    known_components: Collection[str] | None = None,
    draft: bool = False,
) -> int:
    """Open an incident with its first update; ``components``: id -> status it causes.

    ``known_components`` (the config's ids), when given, refuses any other id. A
    ``draft`` stays off the public page and tells no subscriber until it is published.
    """
    name = validate.text(name, "name", max_length=MAX_NAME)
    status = validate.one_of(IncidentStatus, status, "status")
    impact = validate.one_of(Impact, impact, "impact")
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    components = validate.component_statuses(components or {}, known_components)
    with store.begin() as uow:
        return open_in(
            uow, actor, name=name, status=status, impact=impact, body=body,
            components=components, at=at or utcnow(), notify=notify, draft=draft,
        )  # fmt: skip


def open_in(
    uow: UnitOfWork,
    actor: Actor,
    *,
    name: str,
    status: str,
    impact: str,
    body: str,
    components: dict[str, str],
    at: datetime,
    notify: bool = True,
    draft: bool = False,
) -> int:
    """:func:`open_incident` within the caller's unit of work, its values validated."""
    incident_id = uow.incidents.create(
        name=name, status=status, impact=impact, components=components, at=at, draft=draft
    )
    update_id = _add_update(uow, incident_id, status, body, components, at, notify)
    uow.events.record(
        "incident.drafted" if draft else "incident.opened",
        ("incident", incident_id),
        at=at,
        components=components,
        notify=notify and not draft,
        update_id=update_id,
    )
    audit.record(
        uow,
        actor,
        "incident.open",
        ("incident", incident_id),
        at,
        name=name,
        status=status,
        impact=impact,
        components=components,
        notify=notify,
        draft=draft,
    )
    return incident_id


def publish_incident(
    store: Store, actor: Actor, incident_id: int, *, notify: bool = True, at: datetime | None = None
) -> None:
    """Put a draft on the public page (and tell subscribers, unless ``notify`` is off)."""
    at = at or utcnow()
    with store.begin() as uow:
        before = uow.incidents.get(incident_id)
        if before is None:
            raise NotFound(f"no incident {incident_id}", "id")
        if not before.draft:
            raise Conflict(f"incident {incident_id} is published already", "id")
        uow.incidents.publish(incident_id, at)
        updates = uow.incidents.updates(incident_id)
        uow.events.record(
            "incident.resolved" if rules.is_closed(before.status) else "incident.opened",
            ("incident", incident_id),
            at=at,
            components=_components_of(uow, incident_id),
            notify=notify,
            update_id=updates[-1].id if updates else None,
        )
        audit.record(uow, actor, "incident.publish", ("incident", incident_id), at, notify=notify)


def update_incident(
    store: Store,
    actor: Actor,
    incident_id: int,
    *,
    status: str,
    body: str,
    components: dict[str, str] | None = None,
    at: datetime | None = None,
    notify: bool = True,
    known_components: Collection[str] | None = None,
) -> None:
    """Post an update; the incident takes its status (and the components theirs)."""
    status = validate.one_of(IncidentStatus, status, "status")
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    components = validate.component_statuses(components or {}, known_components)
    with store.begin() as uow:
        update_in(
            uow, actor, incident_id, status=status, body=body, components=components,
            at=at or utcnow(), notify=notify,
        )  # fmt: skip


def update_in(
    uow: UnitOfWork,
    actor: Actor,
    incident_id: int,
    *,
    status: str,
    body: str,
    components: dict[str, str],
    at: datetime,
    notify: bool = True,
) -> None:
    """:func:`update_incident` within the caller's unit of work, its values validated."""
    before = uow.incidents.get(incident_id)
    if before is None:
        raise NotFound(f"no incident {incident_id}", "id")
    notify = notify and not before.draft  # a draft tells nobody
    uow.incidents.set_status(incident_id, status, at)
    if components:
        uow.incidents.set_components(incident_id, components)
    update_id = _add_update(uow, incident_id, status, body, components, at, notify)
    closing = rules.is_closed(status) and not rules.is_closed(before.status)
    uow.events.record(
        "incident.resolved" if closing else "incident.updated",
        ("incident", incident_id),
        at=at,
        components=_components_of(uow, incident_id),
        notify=notify,
        update_id=update_id,
    )
    audit.record(
        uow,
        actor,
        "incident.update",
        ("incident", incident_id),
        at,
        before={"status": before.status},
        status=status,
        components=components,
        notify=notify,
    )


def resolve_incident(
    store: Store,
    actor: Actor,
    incident_id: int,
    *,
    body: str,
    at: datetime | None = None,
    notify: bool = True,
) -> None:
    """Resolve an incident with a last update."""
    update_incident(
        store,
        actor,
        incident_id,
        status=IncidentStatus.RESOLVED.value,
        body=body,
        at=at,
        notify=notify,
    )


def edit_update(store: Store, actor: Actor, incident_id: int, update_id: int, *, body: str) -> None:
    """Correct an update's text; the public timeline shows it as edited."""
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    at = utcnow()
    with store.begin() as uow:
        before = _the_update(uow, incident_id, update_id)
        uow.incidents.edit_update(update_id, body, at)
        audit.record(
            uow, actor, "incident.update_edit", ("incident", incident_id), at,
            update_id=update_id, before={"body": before.body}, body=body,
        )  # fmt: skip


def delete_update(store: Store, actor: Actor, incident_id: int, update_id: int) -> None:
    """Take an update off the timeline (not the only one: an incident keeps its first)."""
    at = utcnow()
    with store.begin() as uow:
        before = _the_update(uow, incident_id, update_id)
        if len(uow.incidents.updates(incident_id)) == 1:
            raise Invalid("an incident keeps at least one update", "update_id")
        uow.incidents.delete_update(update_id, at)
        audit.record(
            uow, actor, "incident.update_delete", ("incident", incident_id), at,
            update_id=update_id, before={"status": before.status, "body": before.body},
        )  # fmt: skip


def _the_update(uow: UnitOfWork, incident_id: int, update_id: int):
    found = uow.incidents.get_update(incident_id, update_id)
    if found is None:
        raise NotFound(f"incident {incident_id} has no update {update_id}", "update_id")
    return found


def _components_of(uow: UnitOfWork, incident_id: int) -> list[str]:
    return [c.component_id for c in uow.incidents.components(incident_id)]


def _add_update(
    uow: UnitOfWork,
    incident_id: int,
    status: str,
    body: str,
    components: dict[str, str],
    at: datetime,
    notify: bool,
) -> int:
    """The timeline entry, with each component's status before and after."""
    before = uow.components.states(components)
    operational = ComponentStatus.OPERATIONAL.value
    return uow.incidents.add_update(
        incident_id,
        status=status,
        body=body,
        at=at,
        deliver_notifications=notify,
        affected_components=[
            {
                "code": c,
                "old_status": before[c].status if c in before else operational,
                "new_status": s,
            }
            for c, s in components.items()
        ],
    )
