"""/api/v1/incidents and /api/v1/maintenances: read (viewer), post (editor)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint

from status import ops, rules
from status.clock import utcnow
from status.models import Role
from status.runtime import runtime
from status.web.api_v1 import schemas as s
from status.web.api_v1.auth import actor
from status.web.api_v1.errors import ApiError
from status.web.api_v1.registry import endpoint

bp = Blueprint("api_v1_incidents", __name__)
NOT_FOUND = (404,)
WRITE = (404, 409, 422)


def known() -> set[str]:
    return {c.id for c in runtime().config.components}


def update_out(row) -> s.UpdateOut:
    return s.UpdateOut(
        id=row.id,
        status=row.status,
        body=row.body,
        created_at=row.created_at,
        edited_at=getattr(row, "edited_at", None),
        notify=row.deliver_notifications,
    )


def incident_out(row, updates, components) -> s.IncidentOut:
    return s.IncidentOut(
        id=row.id,
        name=row.name,
        status=row.status,
        impact=row.impact,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        monitoring_at=row.monitoring_at,
        resolved_at=row.resolved_at,
        components={c.component_id: c.status for c in components},
        updates=[update_out(u) for u in updates],
    )


def maintenance_out(row, updates, components) -> s.MaintenanceOut:
    now = utcnow()
    return s.MaintenanceOut(
        id=row.id,
        title=row.name,
        status=rules.window_status(row, now),
        cancelled=row.cancelled_at is not None,
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        auto_transition=row.auto_transition,
        components=sorted(c.component_id for c in components),
        updates=[update_out(u) for u in updates],
    )


def one(repository, convert, item_id: int, what: str):
    found = repository.one(item_id)
    if found is None:
        raise ApiError(404, "not_found", f"no {what} {item_id}", "id")
    return convert(*found)


def page_of(rows, convert, limit: int) -> dict:
    items = [convert(*parts) for parts in rows]
    return {"data": items, "next_cursor": s.next_cursor(items, limit)}


# -- incidents -------------------------------------------------------------------------------
@endpoint(
    bp,
    "GET",
    "/incidents",
    summary="List incidents, newest first",
    tag="incidents",
    role=Role.VIEWER,
    query=s.IncidentQuery,
    answer=s.IncidentPage,
    errors=(400,),
)
def list_incidents(query: s.IncidentQuery):
    rows = runtime().store.incidents.listing(
        open_only=query.state == "open", before_id=query.after, limit=query.limit
    )
    return s.IncidentPage(**page_of(rows, incident_out, query.limit))


@endpoint(
    bp,
    "POST",
    "/incidents",
    summary="Open an incident",
    tag="incidents",
    role=Role.EDITOR,
    body=s.IncidentCreate,
    answer=s.IncidentOut,
    status=201,
    errors=WRITE,
)
def open_incident(body: s.IncidentCreate):
    store = runtime().store
    incident_id = ops.open_incident(store, actor(), **body.model_dump(), known_components=known())
    return one(store.incidents, incident_out, incident_id, "incident")


@endpoint(
    bp,
    "GET",
    "/incidents/{incident_id}",
    summary="One incident with its updates",
    tag="incidents",
    role=Role.VIEWER,
    answer=s.IncidentOut,
    errors=NOT_FOUND,
)
def get_incident(incident_id: int):
    return one(runtime().store.incidents, incident_out, incident_id, "incident")


@endpoint(
    bp,
    "POST",
    "/incidents/{incident_id}/updates",
    summary="Post an update",
    tag="incidents",
    role=Role.EDITOR,
    body=s.IncidentUpdateCreate,
    answer=s.IncidentOut,
    status=201,
    errors=WRITE,
)
def update_incident(incident_id: int, body: s.IncidentUpdateCreate):
    store = runtime().store
    ops.update_incident(store, actor(), incident_id, **body.model_dump(), known_components=known())
    return one(store.incidents, incident_out, incident_id, "incident")


@endpoint(
    bp,
    "PATCH",
    "/incidents/{incident_id}/updates/{update_id}",
    summary="Correct an update's text (the public timeline shows it as edited)",
    tag="incidents",
    role=Role.EDITOR,
    body=s.UpdateEdit,
    answer=s.IncidentOut,
    errors=WRITE,
)
def edit_update(incident_id: int, update_id: int, body: s.UpdateEdit):
    store = runtime().store
    ops.edit_update(store, actor(), incident_id, update_id, body=body.body)
    return one(store.incidents, incident_out, incident_id, "incident")


@endpoint(
    bp,
    "DELETE",
    "/incidents/{incident_id}/updates/{update_id}",
    summary="Take an update off the timeline",
    tag="incidents",
    role=Role.EDITOR,
    status=204,
    errors=WRITE,
)
def delete_update(incident_id: int, update_id: int):
    ops.delete_update(runtime().store, actor(), incident_id, update_id)


# -- maintenance -----------------------------------------------------------------------------
def site_time(moment: datetime) -> datetime:
    """Without an offset, a time is in the site's timezone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=runtime().config.site.tz)


@endpoint(
    bp,
    "GET",
    "/maintenances",
    summary="List maintenance windows, newest first",
    tag="maintenance",
    role=Role.VIEWER,
    query=s.PageQuery,
    answer=s.MaintenancePage,
    errors=(400,),
)
def list_maintenances(query: s.PageQuery):
    rows = runtime().store.maintenance.page(before_id=query.after, limit=query.limit)
    return s.MaintenancePage(**page_of(rows, maintenance_out, query.limit))


@endpoint(
    bp,
    "POST",
    "/maintenances",
    summary="Schedule a maintenance window",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.MaintenanceCreate,
    answer=s.MaintenanceOut,
    status=201,
    errors=WRITE,
)
def schedule_maintenance(body: s.MaintenanceCreate):
    store = runtime().store
    maintenance_id = ops.schedule_maintenance(
        store,
        actor(),
        name=body.title,
        body=body.body,
        scheduled_for=site_time(body.start),
        scheduled_until=site_time(body.end),
        components=body.components,
        auto_transition=body.auto_transition,
        notify=body.notify,
        known_components=known(),
    )
    return one(store.maintenance, maintenance_out, maintenance_id, "maintenance")


@endpoint(
    bp,
    "GET",
    "/maintenances/{maintenance_id}",
    summary="One maintenance window",
    tag="maintenance",
    role=Role.VIEWER,
    answer=s.MaintenanceOut,
    errors=NOT_FOUND,
)
def get_maintenance(maintenance_id: int):
    return one(runtime().store.maintenance, maintenance_out, maintenance_id, "maintenance")


@endpoint(
    bp,
    "PATCH",
    "/maintenances/{maintenance_id}",
    summary="Move, extend or shorten a window",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.MaintenanceChange,
    answer=s.MaintenanceOut,
    errors=WRITE,
)
def reschedule_maintenance(maintenance_id: int, body: s.MaintenanceChange):
    store = runtime().store
    ops.reschedule_maintenance(
        store,
        actor(),
        maintenance_id,
        scheduled_for=site_time(body.start) if body.start else None,
        scheduled_until=site_time(body.end) if body.end else None,
        body=body.body,
        notify=body.notify,
    )
    return one(store.maintenance, maintenance_out, maintenance_id, "maintenance")


@endpoint(
    bp,
    "POST",
    "/maintenances/{maintenance_id}/updates",
    summary="Post an update",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.MaintenanceUpdateCreate,
    answer=s.MaintenanceOut,
    status=201,
    errors=WRITE,
)
def update_maintenance(maintenance_id: int, body: s.MaintenanceUpdateCreate):
    store = runtime().store
    ops.update_maintenance(store, actor(), maintenance_id, **body.model_dump())
    return one(store.maintenance, maintenance_out, maintenance_id, "maintenance")


@endpoint(
    bp,
    "POST",
    "/maintenances/{maintenance_id}/cancel",
    summary="Cancel a window",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.MaintenanceCancel,
    answer=s.MaintenanceOut,
    errors=WRITE,
)
def cancel_maintenance(maintenance_id: int, body: s.MaintenanceCancel):
    store = runtime().store
    ops.cancel_maintenance(store, actor(), maintenance_id, body=body.body)
    return one(store.maintenance, maintenance_out, maintenance_id, "maintenance")
