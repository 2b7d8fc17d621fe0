"""Schedule, update and cancel maintenance windows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from status.clock import utcnow
from status.models import MaintenanceStatus
from status.ops import audit
from status.ops.actor import Actor
from status.store import Store


def schedule_maintenance(
    store: Store,
    actor: Actor,
    *,
    name: str,
    body: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: Iterable[str] = (),
    status: str = MaintenanceStatus.SCHEDULED.value,
    auto_transition: bool = True,
    at: datetime | None = None,
) -> int:
    """A new window with its first update."""
    at = at or utcnow()
    components = list(components)
    with store.begin() as uow:
        maintenance_id = uow.maintenance.create(
            name=name,
            status=status,
            scheduled_for=scheduled_for,
            scheduled_until=scheduled_until,
            components=components,
            auto_transition=auto_transition,
            at=at,
        )
        uow.maintenance.add_update(maintenance_id, status=status, body=body, at=at)
        audit.record(
            uow,
            actor,
            "maintenance.schedule",
            ("maintenance", maintenance_id),
            at,
            name=name,
            status=status,
            scheduled_for=scheduled_for.isoformat(),
            scheduled_until=scheduled_until.isoformat(),
            components=components,
            auto_transition=auto_transition,
        )
    return maintenance_id


def update_maintenance(
    store: Store,
    actor: Actor,
    maintenance_id: int,
    *,
    status: str,
    body: str,
    at: datetime | None = None,
    cancelled: bool = False,
) -> None:
    """Post an update; the window takes its status (and calendars see a new SEQUENCE)."""
    at = at or utcnow()
    with store.begin() as uow:
        before = uow.maintenance.get(maintenance_id)
        uow.maintenance.set_status(maintenance_id, status, at, cancelled=cancelled)
        uow.maintenance.add_update(maintenance_id, status=status, body=body, at=at)
        audit.record(
            uow,
            actor,
            "maintenance.cancel" if cancelled else "maintenance.update",
            ("maintenance", maintenance_id),
            at,
            before={"status": before.status if before else None},
            status=status,
        )


def cancel_maintenance(
    store: Store, actor: Actor, maintenance_id: int, *, body: str, at: datetime | None = None
) -> None:
    """Call a window off: it ends as completed and stays in calendars as cancelled."""
    update_maintenance(
        store,
        actor,
        maintenance_id,
        status=MaintenanceStatus.COMPLETED.value,
        body=body,
        at=at,
        cancelled=True,
    )
