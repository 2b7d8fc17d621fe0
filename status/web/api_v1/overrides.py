"""/api/v1/overrides: a component's status set by hand (read: viewer, write: editor)."""

from __future__ import annotations

from flask import Blueprint

from status import ops
from status.clock import utcnow
from status.models import Role
from status.runtime import runtime
from status.web.api_v1 import schemas as s
from status.web.api_v1.auth import actor
from status.web.api_v1.incidents import known
from status.web.api_v1.registry import endpoint

bp = Blueprint("api_v1_overrides", __name__)


def override_out(row) -> s.OverrideOut:
    return s.OverrideOut(
        component=row.component_id,
        status=row.status,
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        actor=row.actor,
    )


@endpoint(
    bp,
    "GET",
    "/overrides",
    summary="Overrides in force",
    tag="overrides",
    role=Role.VIEWER,
    answer=s.OverrideList,
)
def list_overrides():
    active = runtime().store.overrides.active(utcnow())
    return s.OverrideList(data=[override_out(row) for row in active.values()])


@endpoint(
    bp,
    "PUT",
    "/overrides/{component}",
    summary="Set a component's status by hand (replaces its override)",
    tag="overrides",
    role=Role.EDITOR,
    body=s.OverrideSet,
    answer=s.OverrideOut,
    errors=(404, 422),
)
def set_override(component: str, body: s.OverrideSet):
    store = runtime().store
    ops.set_override(
        store, actor(), component=component, **body.model_dump(), known_components=known()
    )
    return override_out(store.overrides.active(utcnow())[component])


@endpoint(
    bp,
    "DELETE",
    "/overrides/{component}",
    summary="Let the probes speak for the component again",
    tag="overrides",
    role=Role.EDITOR,
    status=204,
    errors=(404,),
)
def clear_override(component: str):
    ops.clear_override(runtime().store, actor(), component=component)
