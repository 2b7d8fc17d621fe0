"""Component status changes, and the incidents the probes open and resolve themselves."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from status import i18n, rules
from status.clock import utcnow
from status.models import IncidentStatus
from status.ops import audit
from status.ops.actor import PROBES, Actor
from status.store import Store, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChange:
    """A status to set on a component (see :func:`set_component_statuses`)."""

    component_id: str
    status: str
    reason: str
    auto_incident: str | None = None
    """The component's name, to open and resolve incidents with its outages."""


def set_component_status(
    store: Store,
    component_id: str,
    status: str,
    *,
    reason: str,
    source: str,
    at: datetime | None = None,
    auto_incident: str | None = None,
    language: str = "en",
) -> bool:
    """Set a component's status; returns True (and logs the change) if it changed.

    The change-log row is written in the same transaction as the new state. With
    ``auto_incident`` (the component's name) an outage opens an incident and the
    recovery resolves it, with timeline updates written in ``language``.
    """
    change = StatusChange(component_id, status, reason, auto_incident)
    return bool(set_component_statuses(store, [change], source=source, at=at, language=language))


def set_component_statuses(
    store: Store,
    changes: Iterable[StatusChange],
    *,
    source: str,
    at: datetime | None = None,
    language: str = "en",
) -> list[str]:
    """Several components' statuses in one transaction; returns the ids that changed.

    Each as :func:`set_component_status`; one transaction for all, because a worker
    that sees many components change at once (its start, a network outage) would
    otherwise spend a commit on each while its results wait.
    """
    at = at or utcnow()
    changed: list[tuple[StatusChange, str | None]] = []
    with store.begin() as uow:
        for change in changes:
            did, old = uow.components.set_status(
                change.component_id, change.status, reason=change.reason, source=source, at=at
            )
            if not did:
                continue
            if change.auto_incident:
                _auto_incident(uow, change, old, at, language)
            changed.append((change, old))
    for change, old in changed:
        log.info(
            "component %s: %s -> %s (%s)", change.component_id, old, change.status, change.reason
        )
    return [change.component_id for change, _ in changed]


def _auto_incident(
    uow: UnitOfWork,
    change: StatusChange,
    old: str | None,
    at: datetime,
    language: str,
    actor: Actor = PROBES,
) -> None:
    """The probes' own incident for the component: see :func:`rules.auto_incident_step`."""
    component_id, new = change.component_id, change.status
    open_id = uow.incidents.open_auto_incident(component_id)
    step = rules.auto_incident_step(old, new, open_id is not None)
    name = change.auto_incident or component_id

    def say(incident_id: int, status: IncidentStatus, text: str) -> None:
        uow.incidents.add_update(
            incident_id,
            status=status.value,
            body=i18n.translate(text, language, name=name),
            at=at,
            affected_components=[{"code": component_id, "old_status": old, "new_status": new}],
        )

    if step == "open":
        open_id = uow.incidents.create(
            name=i18n.translate(rules.AUTO_INCIDENT_NAME[new], language, name=name),
            status=IncidentStatus.INVESTIGATING.value,
            impact=rules.auto_incident_impact(new),
            components={component_id: new},
            at=at,
            auto=True,
        )
        say(open_id, IncidentStatus.INVESTIGATING, rules.AUTO_INCIDENT_OPENED)
        uow.events.record(
            "incident.opened", ("incident", open_id), at=at, components=[component_id]
        )
    elif step == "escalate":
        uow.incidents.set_components(open_id, {component_id: new})
    elif step == "resolve":
        uow.incidents.set_status(open_id, IncidentStatus.RESOLVED.value, at)
        uow.incidents.set_every_component(open_id, new)
        say(open_id, IncidentStatus.RESOLVED, rules.AUTO_INCIDENT_RESOLVED)
        uow.events.record(
            "incident.resolved", ("incident", open_id), at=at, components=[component_id]
        )
    if step:
        audit.record(uow, actor, f"incident.{step}", ("incident", open_id), at, component=new)
