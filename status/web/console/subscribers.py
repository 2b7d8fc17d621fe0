"""/console/subscribers: counts by state; find one subscriber by exact address, export
them (GDPR Art. 15) or erase them (Art. 17); the webhook subscriptions, each erasable.
Admins only, every change audited.

The address is always sent in a POST body (CSRF-checked), never in a URL, so it stays
out of access logs and browser history.
"""

from __future__ import annotations

import json

from flask import Response, flash, render_template, request
from flask_babel import gettext as _

from status import ops
from status.models import Role, SubscriberState
from status.ops import subscriber_admin as admin
from status.ops import webhooks
from status.runtime import runtime
from status.web.console import bp, forms
from status.web.console.auth import actor, require

STATES = [s.value for s in SubscriberState]


@bp.route("/subscribers", methods=["GET", "POST"])
@require(Role.ADMIN)
def subscribers():
    store, found, status = runtime().store, None, 200
    if request.method == "POST":
        action, email = forms.field("action"), forms.field("email")
        try:
            if action == "erase-webhook":
                webhooks.erase(store, actor(), int(forms.field("id") or 0))
                flash(_("The webhook subscription is deleted."), "info")
            elif action == "export":
                return export_response(admin.export(store, actor(), email))
            if action == "erase":
                if not forms.flag("sure"):
                    raise ops.Invalid(_("Tick the box to confirm the erasure."), "sure")
                admin.erase(store, actor(), email)
                flash(_("The subscriber and all data held about them are deleted."), "info")
            elif action != "erase-webhook":
                found = admin.find(store, actor(), email)
                if found is None:
                    flash(_("No subscriber has exactly this address."), "info")
        except ops.OpsError as exc:
            flash(str(exc), "error")
            status = 404 if isinstance(exc, ops.NotFound) else 400
    counts = store.subscribers.count_by_state()
    return render_template(
        "console/subscribers.html",
        counts={state: counts.get(state, 0) for state in sorted(set(STATES) | set(counts))},
        found=found,
        webhooks=webhooks.listing(store),
    ), status


def export_response(data: dict) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=1)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f"attachment; filename=subscriber-{data['id']}.json"
    return response
