"""/console/outbox: what became of each event's notifications (pending, failed with the
reason, sent, cancelled), and a button that sends an event's failed rows again. Admins
only; the retry is an audited command (:func:`status.ops.outbox.retry_failed`)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from status import ops
from status.models import OutboxState, Role
from status.ops import outbox as outbox_ops
from status.runtime import runtime
from status.web.console import bp
from status.web.console.auth import actor, require

STATES = [s.value for s in OutboxState]


@bp.get("/outbox")
@require(Role.ADMIN)
def outbox():
    store = runtime().store
    events = store.outbox.recent(limit=50)
    personal = store.outbox.personal_counts()
    return render_template(
        "console/outbox.html",
        events=events,
        reasons=store.outbox.failure_reasons([e.id for e in events]),
        personal={state: personal.get(state, 0) for state in STATES},
        states=STATES,
    )


@bp.post("/outbox/<int(max=2147483647):event_id>/retry")
@require(Role.ADMIN)
def outbox_retry(event_id: int):
    try:
        retried = outbox_ops.retry_failed(runtime().store, actor(), event_id)
    except ops.NotFound as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.outbox"), 303)
    flash(_("%(count)d failed notifications of event %(event)d are sent again.",
            count=retried, event=event_id), "info")  # fmt: skip
    return redirect(url_for("console.outbox"), 303)
