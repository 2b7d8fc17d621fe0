"""Open, update and resolve incidents (each with its timeline entry and audit entry)."""

from __future__ import annotations

from datetime import datetime

from status.clock import utcnow
from status.models import ComponentStatus, IncidentStatus
from status.ops import audit
from status.ops.actor import Actor
from status.store import Store, UnitOfWork


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
) -> int:
    """Open an incident with its first update; ``components``: id -> status it causes."""
    at = at or utcnow()
    components = components or {}
    with store.begin() as uow:
        incident_id = uow.incidents.create(
            name=name, status=status, impact=impact, components=components, at=at
        )
        _add_update(uow, incident_id, status, body, components, at, notify)
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
        )
    return incident_id


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
) -> None:
    """Post an update; the incident takes its status (and the components theirs)."""
    at = at or utcnow()
    components = components or {}
    with store.begin() as uow:
        before = uow.incidents.get(incident_id)
        uow.incidents.set_status(incident_id, status, at)
        if components:
            uow.incidents.set_components(incident_id, components)
        _add_update(uow, incident_id, status, body, components, at, notify)
        audit.record(
            uow,
            actor,
            "incident.update",
            ("incident", incident_id),
            at,
            before={"status": before.status if before else None},
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


def _add_update(
    uow: UnitOfWork,
    incident_id: int,
    status: str,
    body: str,
    components: dict[str, str],
    at: datetime,
    notify: bool,
) -> None:
    """The timeline entry, with each component's status before and after."""
    before = uow.components.states(components)
    operational = ComponentStatus.OPERATIONAL.value
    uow.incidents.add_update(
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
