"""/api/v1/incidents: read (viewer), post (editor); helpers the other resources share."""

from __future__ import annotations

from flask import Blueprint

from status import ops
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
        draft=row.draft,
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
    "/incidents/{incident_id}/publish",
    summary="Publish a draft (an alert's, say): on the public page, and to subscribers",
    tag="incidents",
    role=Role.EDITOR,
    body=s.IncidentPublish,
    answer=s.IncidentOut,
    errors=WRITE,
)
def publish_incident(incident_id: int, body: s.IncidentPublish):
    store = runtime().store
    ops.publish_incident(store, actor(), incident_id, notify=body.notify)
    return one(store.incidents, incident_out, incident_id, "incident")


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
