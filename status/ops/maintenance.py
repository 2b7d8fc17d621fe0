"""Schedule, update and cancel maintenance windows (each with its event and audit entry)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from status.clock import utcnow
from status.models import MaintenanceStatus
from status.ops import audit, validate
from status.ops.actor import Actor
from status.ops.errors import Invalid, NotFound
from status.store import Store

MAX_NAME, MAX_BODY = 300, 20_000
EVENT_OF_STATUS = {
    MaintenanceStatus.IN_PROGRESS: "maintenance.started",
    MaintenanceStatus.COMPLETED: "maintenance.completed",
}


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
    notify: bool = True,
    known_components: Collection[str] | None = None,
) -> int:
    """A new window with its first update."""
    name = validate.text(name, "title", max_length=MAX_NAME)
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    status = validate.one_of(MaintenanceStatus, status, "status")
    validate.window(scheduled_for, scheduled_until)
    components = validate.component_ids(components, known_components, "components")
    at = at or utcnow()
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
        uow.events.record(
            "maintenance.scheduled",
            ("maintenance", maintenance_id),
            at=at,
            components=components,
            notify=notify,
        )
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
    notify: bool = True,
) -> None:
    """Post an update; the window takes its status (and calendars see a new SEQUENCE)."""
    status = validate.one_of(MaintenanceStatus, status, "status")
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    at = at or utcnow()
    with store.begin() as uow:
        before = uow.maintenance.get(maintenance_id)
        if before is None:
            raise NotFound(f"no maintenance {maintenance_id}", "id")
        if before.cancelled_at is not None:
            raise Invalid("the window was cancelled", "id")
        uow.maintenance.detach(maintenance_id)  # of a series: edits of it skip this one
        uow.maintenance.set_status(maintenance_id, status, at, cancelled=cancelled)
        uow.maintenance.add_update(maintenance_id, status=status, body=body, at=at)
        kind = "maintenance.cancelled" if cancelled else EVENT_OF_STATUS.get(status)
        uow.events.record(
            kind or "maintenance.updated",
            ("maintenance", maintenance_id),
            at=at,
            components=[c.component_id for c in uow.maintenance.components(maintenance_id)],
            notify=notify,
        )
        audit.record(
            uow,
            actor,
            "maintenance.cancel" if cancelled else "maintenance.update",
            ("maintenance", maintenance_id),
            at,
            before={"status": before.status},
            status=status,
        )


def reschedule_maintenance(
    store: Store,
    actor: Actor,
    maintenance_id: int,
    *,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    body: str = "",
    notify: bool = True,
) -> None:
    """Move, extend or shorten a window (what is not given stays); with an update if
    ``body`` says something."""
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    at = utcnow()
    with store.begin() as uow:
        before = uow.maintenance.get(maintenance_id)
        if before is None:
            raise NotFound(f"no maintenance {maintenance_id}", "id")
        if before.cancelled_at is not None or before.status == MaintenanceStatus.COMPLETED:
            raise Invalid("the window is over", "id")
        start = scheduled_for or before.scheduled_for
        end = scheduled_until or before.scheduled_until
        validate.window(start, end)
        uow.maintenance.detach(maintenance_id)
        uow.maintenance.reschedule(maintenance_id, start, end, at)
        if body:
            uow.maintenance.add_update(maintenance_id, status=before.status, body=body, at=at)
        uow.events.record(
            "maintenance.rescheduled",
            ("maintenance", maintenance_id),
            at=at,
            components=[c.component_id for c in uow.maintenance.components(maintenance_id)],
            notify=notify,
            scheduled_for=start.isoformat(),
            scheduled_until=end.isoformat(),
        )
        audit.record(
            uow,
            actor,
            "maintenance.reschedule",
            ("maintenance", maintenance_id),
            at,
            before={
                "scheduled_for": before.scheduled_for.isoformat(),
                "scheduled_until": before.scheduled_until.isoformat(),
            },
            scheduled_for=start.isoformat(),
            scheduled_until=end.isoformat(),
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
