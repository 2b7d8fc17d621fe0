"""The console's pages for everyone on duty: dashboard, incidents, maintenance, overrides.

Reading needs the viewer role, posting the editor role. A command's refusal is shown
above the form, naming the field, with what was typed kept (400).
"""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from status import markdown, ops, rules
from status.clock import utcnow
from status.models import Impact, IncidentStatus, MaintenanceStatus, Role
from status.ops.validate import SETTABLE
from status.runtime import runtime
from status.web.console import bp, forms
from status.web.console.auth import actor, require


def from_template(template_id: str) -> dict:
    """The new-incident form filled from an incident template of the config file."""
    template = runtime().config.incident_template(template_id) if template_id else None
    if template is None:
        return {}
    form = {k: getattr(template, k) for k in ("name", "status", "impact", "body")}
    form.update({f"component:{c}": s for c, s in template.components.items()})
    return {**form, "notify": "on"}


def choices() -> dict:
    """What every form offers: statuses, impacts, components in config order."""
    return {
        "templates": runtime().config.incident_templates,
        "incident_statuses": [s.value for s in IncidentStatus],
        "impacts": [i.value for i in Impact],
        "component_statuses": SETTABLE,
        "maintenance_statuses": [s.value for s in MaintenanceStatus],
        "components": runtime().config.components,
    }


def refused(template: str, exc: ops.OpsError, **context):
    flash(str(exc), "error")
    return render_template(template, form=request.form, **choices(), **context), 400


@bp.get("/")
def dashboard():
    snapshot = runtime().snapshot()
    return render_template(
        "console/dashboard.html",
        views=list(snapshot.components.values()),
        open_incidents=snapshot.unresolved(),
        active=snapshot.active_maintenances(),
        upcoming=snapshot.upcoming_maintenances(),
        overrides=runtime().store.overrides.active(utcnow()),
    )


# -- incidents -------------------------------------------------------------------------------
@bp.get("/incidents")
def incidents():
    rows = runtime().store.incidents.listing(limit=100)
    return render_template("console/incidents.html", incidents=rows)


@bp.route("/incidents/new", methods=["GET", "POST"])
@require(Role.EDITOR)
def new_incident():
    if request.method == "GET":
        form = from_template(request.args.get("template", ""))
        return render_template("console/incident_new.html", form=form, **choices())
    if request.form.get("action") == "preview":
        return render_template(
            "console/incident_new.html",
            form=request.form,
            preview=markdown.render(forms.field("body")),
            **choices(),
        )
    try:
        incident_id = ops.open_incident(
            runtime().store,
            actor(),
            name=forms.field("name"),
            status=forms.field("status"),
            impact=forms.field("impact"),
            body=forms.field("body"),
            components=forms.component_statuses(),
            notify=forms.flag("notify"),
            known_components=forms.known_components(),
        )
    except ops.OpsError as exc:
        return refused("console/incident_new.html", exc)
    flash(_("Incident opened."), "info")
    return redirect(url_for("console.incident", incident_id=incident_id))


@bp.route("/incidents/<int:incident_id>", methods=["GET", "POST"])
def incident(incident_id: int):
    found = runtime().store.incidents.one(incident_id)
    if found is None:
        return render_template("console/refused.html", message=_("No such incident.")), 404
    context = {"incident": found[0], "updates": found[1], "touched": found[2]}
    if request.method == "GET":
        return render_template("console/incident.html", form={}, **context, **choices())
    return post_incident_update(incident_id, context)


@require(Role.EDITOR)
def post_incident_update(incident_id: int, context: dict):
    action = request.form.get("action")
    if action in ("edit", "delete"):
        return change_posted_update(incident_id, action)
    if action == "publish":
        try:
            ops.publish_incident(runtime().store, actor(), incident_id, notify=forms.flag("notify"))
            flash(_("Incident published."), "info")
        except ops.OpsError as exc:
            flash(str(exc), "error")
        return redirect(url_for("console.incident", incident_id=incident_id))
    if action == "preview":
        preview = markdown.render(forms.field("body"))
        return render_template(
            "console/incident.html", form=request.form, preview=preview, **context, **choices()
        )
    try:
        ops.update_incident(
            runtime().store,
            actor(),
            incident_id,
            status=forms.field("status"),
            body=forms.field("body"),
            components=forms.component_statuses(),
            notify=forms.flag("notify"),
            known_components=forms.known_components(),
        )
    except ops.OpsError as exc:
        return refused("console/incident.html", exc, **context)
    flash(_("Update posted."), "info")
    return redirect(url_for("console.incident", incident_id=incident_id))


def change_posted_update(incident_id: int, action: str):
    store, who = runtime().store, actor()
    try:
        update_id = int(forms.field("update_id") or 0)
        if action == "edit":
            ops.edit_update(store, who, incident_id, update_id, body=forms.field("body"))
            flash(_("Update corrected; the public page shows it as edited."), "info")
        else:
            ops.delete_update(store, who, incident_id, update_id)
            flash(_("Update deleted."), "info")
    except (ops.OpsError, ValueError) as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.incident", incident_id=incident_id))


# -- maintenance -----------------------------------------------------------------------------
@bp.route("/maintenance", methods=["GET", "POST"])
def maintenance():
    rows = runtime().store.maintenance.page(limit=100)
    context = {
        "windows": rows,
        "series": runtime().store.maintenance_series.page(limit=100),
        "now": utcnow(),
        "status_of": maintenance_status,
    }
    if request.method == "GET":
        return render_template("console/maintenance.html", form={}, **context, **choices())
    return schedule(context)


@require(Role.EDITOR)
def schedule(context: dict):
    if request.form.get("action") == "preview":
        preview = markdown.render(forms.field("body"))
        return render_template(
            "console/maintenance.html", form=request.form, preview=preview, **context, **choices()
        )
    try:
        fields = window_fields()
        if forms.field("rrule"):
            timezone = runtime().config.site.timezone
            ops.schedule_series(runtime().store, actor(), **fields, rrule=forms.field("rrule"),
                                timezone=timezone)  # fmt: skip
        else:
            ops.schedule_maintenance(runtime().store, actor(), **fields)
    except ops.OpsError as exc:
        return refused("console/maintenance.html", exc, **context)
    flash(_("Maintenance scheduled."), "info")
    return redirect(url_for("console.maintenance"))


def window_fields() -> dict:
    """What the maintenance and the series forms share, for the ops commands."""
    return dict(
        name=forms.field("title"),
        body=forms.field("body"),
        scheduled_for=forms.local_time("start"),
        scheduled_until=forms.local_time("end"),
        components=request.form.getlist("components"),
        notify=forms.flag("notify"),
        known_components=forms.known_components(),
    )


@bp.route("/maintenance/series/<int:series_id>", methods=["GET", "POST"])
def maintenance_series(series_id: int):
    store = runtime().store
    row = store.maintenance_series.get(series_id)
    if row is None:
        return render_template("console/refused.html", message=_("No such series.")), 404
    context = {"series": row, "windows": store.maintenance_series.occurrences(series_id),
               "now": utcnow(), "status_of": maintenance_status}  # fmt: skip
    if request.method == "GET":
        return render_template("console/maintenance_series.html", form=series_form(row),
                               **context, **choices())  # fmt: skip
    return change_series(series_id, context)


def series_form(row) -> dict:
    start = row.dtstart
    end = start + timedelta(seconds=row.duration_seconds)
    return {"title": row.name, "body": row.body, "rrule": row.rrule,
            "start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}",
            "components": list(row.components), "notify": "on"}  # fmt: skip


@require(Role.EDITOR)
def change_series(series_id: int, context: dict):
    store, who = runtime().store, actor()
    try:
        if request.form.get("action") == "cancel":
            ops.cancel_series(store, who, series_id, body=forms.field("body"))
            flash(_("Series cancelled."), "info")
            return redirect(url_for("console.maintenance"))
        fields = window_fields()
        ops.update_series(store, who, series_id, rrule=forms.field("rrule"), **fields)
    except ops.OpsError as exc:
        flash(str(exc), "error")
        form = {**request.form, "components": request.form.getlist("components")}
        return render_template("console/maintenance_series.html", form=form, **context,
                               **choices()), 400  # fmt: skip
    flash(_("Series changed; its windows that had not started follow."), "info")
    return redirect(url_for("console.maintenance_series", series_id=series_id))


@bp.post("/maintenance/<int:maintenance_id>")
@require(Role.EDITOR)
def maintenance_update(maintenance_id: int):
    store, who = runtime().store, actor()
    try:
        if request.form.get("action") == "cancel":
            ops.cancel_maintenance(store, who, maintenance_id, body=forms.field("body"))
        else:
            ops.update_maintenance(
                store, who, maintenance_id, status=forms.field("status"), body=forms.field("body")
            )
    except ops.OpsError as exc:
        flash(str(exc), "error")
    return redirect(url_for("console.maintenance"))


def maintenance_status(row, now) -> str:
    return "cancelled" if row.cancelled_at else rules.window_status(row, now)


# -- overrides -------------------------------------------------------------------------------
@bp.route("/overrides", methods=["GET", "POST"])
def overrides():
    context = {"overrides": runtime().store.overrides.active(utcnow())}
    if request.method == "GET":
        return render_template("console/overrides.html", form={}, **context, **choices())
    return set_or_clear_override(context)


@require(Role.EDITOR)
def set_or_clear_override(context: dict):
    store, who = runtime().store, actor()
    try:
        if request.form.get("action") == "clear":
            ops.clear_override(store, who, component=forms.field("component"))
            flash(_("Override cleared."), "info")
        else:
            ops.set_override(
                store,
                who,
                component=forms.field("component"),
                status=forms.field("status"),
                reason=forms.field("reason"),
                expires_at=forms.expiry("duration"),
                known_components=forms.known_components(),
            )
            flash(_("Override set."), "info")
    except ops.OpsError as exc:
        return refused("console/overrides.html", exc, **context)
    return redirect(url_for("console.overrides"))
