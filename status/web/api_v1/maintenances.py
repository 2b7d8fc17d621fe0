"""/api/v1/maintenances and /api/v1/maintenance-series: windows and recurring series;
read (viewer), post (editor).

``POST /maintenances`` with an ``rrule`` schedules a series and answers with its first
window; ``/maintenance-series/{id}`` shows the series with its windows, and changes
or cancels it. A window of a series is changed or cancelled through
``/maintenances/{id}`` like any other (and is then left alone by changes of the series).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint

from status import ops, rules
from status.clock import utcnow
from status.models import Role
from status.runtime import runtime
from status.web.api_v1 import schemas as s
from status.web.api_v1.auth import actor
from status.web.api_v1.errors import ApiError
from status.web.api_v1.incidents import NOT_FOUND, WRITE, known, one, page_of, update_out
from status.web.api_v1.registry import endpoint

bp = Blueprint("api_v1_maintenances", __name__)


def maintenance_out(row, updates, components) -> s.MaintenanceOut:
    return s.MaintenanceOut(
        id=row.id,
        title=row.name,
        status=rules.window_status(row, utcnow()),
        cancelled=row.cancelled_at is not None,
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        auto_transition=row.auto_transition,
        components=sorted(c.component_id for c in components),
        updates=[update_out(u) for u in updates],
        series_id=row.series_id,
        occurrence_start=row.occurrence_start,
        detached=row.detached,
    )


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
    summary="Schedule a maintenance window, or with rrule a recurring series",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.MaintenanceCreate,
    answer=s.MaintenanceOut,
    status=201,
    errors=WRITE,
)
def schedule_maintenance(body: s.MaintenanceCreate):
    store = runtime().store
    fields = dict(
        name=body.title,
        body=body.body,
        scheduled_for=site_time(body.start),
        scheduled_until=site_time(body.end),
        components=body.components,
        auto_transition=body.auto_transition,
        notify=body.notify,
        known_components=known(),
    )
    if body.rrule is None:
        maintenance_id = ops.schedule_maintenance(store, actor(), **fields)
    else:
        timezone = runtime().config.site.timezone
        series_id = ops.schedule_series(store, actor(), **fields, rrule=body.rrule,
                                        timezone=timezone)  # fmt: skip
        maintenance_id = store.maintenance_series.occurrences(series_id)[0].id
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


# -- recurring series ----------------------------------------------------------------------
def series_out(row, occurrences: list | None = None) -> s.SeriesOut:
    start = row.dtstart.replace(tzinfo=ZoneInfo(row.timezone))
    return s.SeriesOut(
        id=row.id,
        title=row.name,
        body=row.body,
        rrule=row.rrule,
        start=start,
        end=start + timedelta(seconds=row.duration_seconds),
        timezone=row.timezone,
        components=list(row.components),
        auto_transition=row.auto_transition,
        cancelled=row.cancelled_at is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        windows_until=row.materialised_until,
        occurrences=occurrences or [],
    )


def one_series(series_id: int) -> s.SeriesOut:
    store = runtime().store
    row = store.maintenance_series.get(series_id)
    if row is None:
        raise ApiError(404, "not_found", f"no maintenance series {series_id}", "id")
    windows = [store.maintenance.one(w.id) for w in store.maintenance_series.occurrences(row.id)]
    return series_out(row, [maintenance_out(*found) for found in windows if found])


@endpoint(
    bp,
    "GET",
    "/maintenance-series",
    summary="List recurring maintenance series, newest first (without their windows)",
    tag="maintenance",
    role=Role.VIEWER,
    query=s.PageQuery,
    answer=s.SeriesPage,
    errors=(400,),
)
def list_series(query: s.PageQuery):
    rows = runtime().store.maintenance_series.page(before_id=query.after, limit=query.limit)
    items = [series_out(row) for row in rows]
    return s.SeriesPage(data=items, next_cursor=s.next_cursor(items, query.limit))


@endpoint(
    bp,
    "GET",
    "/maintenance-series/{series_id}",
    summary="One recurring series with its windows (occurrences), earliest first",
    tag="maintenance",
    role=Role.VIEWER,
    answer=s.SeriesOut,
    errors=NOT_FOUND,
)
def get_series(series_id: int):
    return one_series(series_id)


@endpoint(
    bp,
    "PATCH",
    "/maintenance-series/{series_id}",
    summary="Change a series: its windows not started and not changed by themselves follow",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.SeriesChange,
    answer=s.SeriesOut,
    errors=WRITE,
)
def update_series(series_id: int, body: s.SeriesChange):
    ops.update_series(
        runtime().store,
        actor(),
        series_id,
        name=body.title,
        body=body.body,
        scheduled_for=site_time(body.start) if body.start else None,
        scheduled_until=site_time(body.end) if body.end else None,
        rrule=body.rrule,
        components=body.components,
        notify=body.notify,
        known_components=known(),
    )
    return one_series(series_id)


@endpoint(
    bp,
    "POST",
    "/maintenance-series/{series_id}/cancel",
    summary="Cancel a series: every window of it that has not started",
    tag="maintenance",
    role=Role.EDITOR,
    body=s.MaintenanceCancel,
    answer=s.SeriesOut,
    errors=WRITE,
)
def cancel_series(series_id: int, body: s.MaintenanceCancel):
    ops.cancel_series(runtime().store, actor(), series_id, body=body.body)
    return one_series(series_id)
