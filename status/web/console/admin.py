"""The console's admin pages: users, API tokens, the audit log (subscribers and the
outbox have modules of their own)."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from status import ops
from status.models import Role
from status.runtime import runtime
from status.web.console import bp, forms
from status.web.console.auth import actor, require

ROLES = [r.value for r in Role]
AUDIT_PAGE = 200


@bp.route("/users", methods=["GET", "POST"])
@require(Role.ADMIN)
def users():
    store = runtime().store
    if request.method == "POST":
        try:
            change_user(store)
        except ops.OpsError as exc:
            flash(str(exc), "error")
            return render_users(store, request.form), 400
        return redirect(url_for("console.users"))
    return render_users(store, {})


def render_users(store, form):
    return render_template("console/users.html", users=store.users.all(), roles=ROLES, form=form)


def change_user(store) -> None:
    action, name, who = forms.field("action"), forms.field("username"), actor()
    if action == "add":
        ops.add_user(
            store,
            who,
            name=name,
            password=request.form.get("password", ""),
            role_name=forms.field("role"),
        )
        flash(_("User %(name)s added.", name=name), "info")
    elif action == "role":
        ops.set_role(store, who, name=name, role_name=forms.field("role"))
        flash(_("Role of %(name)s changed.", name=name), "info")
    elif action in ("disable", "enable"):
        ops.set_disabled(store, who, name=name, disabled=action == "disable")
        flash(_("User %(name)s: %(state)s.", name=name, state=action), "info")
    elif action == "password":
        ops.set_password(store, who, name=name, password=request.form.get("password", ""))
        flash(_("Password of %(name)s changed; their sessions ended.", name=name), "info")


@bp.route("/tokens", methods=["GET", "POST"])
@require(Role.ADMIN)
def tokens():
    store, created = runtime().store, None
    if request.method == "POST":
        try:
            if forms.field("action") == "revoke":
                ops.revoke_token(store, actor(), int(forms.field("id") or 0))
                flash(_("Token revoked."), "info")
            else:
                _id, created = ops.create_token(
                    store,
                    actor(),
                    name=forms.field("name"),
                    role_name=forms.field("role"),
                    expires_at=forms.expiry("expires"),
                    owner=forms.field("owner") or None,
                )
        except (ops.OpsError, ValueError) as exc:
            flash(str(exc), "error")
    return render_template(
        "console/tokens.html", tokens=store.tokens.all(), roles=ROLES, created=created
    )


@bp.get("/audit")
@require(Role.ADMIN)
def audit():
    entries = audit_entries()
    fmt = request.args.get("format")
    if fmt in ("csv", "json"):
        return export(entries, fmt)
    return render_template(
        "console/audit.html", entries=entries[-AUDIT_PAGE:][::-1], total=len(entries)
    )


def audit_entries():
    target_type, _sep, target_id = request.args.get("object", "").partition(":")
    return runtime().store.audit.entries(
        actor=request.args.get("actor") or None,
        target_type=target_type or None,
        target_id=target_id or None,
        since=forms.since_or_ago("since"),
        until=forms.since_or_ago("until"),
    )


def export(entries, fmt: str) -> Response:
    rows = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "object": f"{e.target_type}:{e.target_id}" if e.target_id else e.target_type,
            "ip": e.ip,
            "details": e.details,
            "hash": e.hash,
        }
        for e in entries
    ]
    if fmt == "json":
        body, mimetype = json.dumps(rows, ensure_ascii=False, indent=1), "application/json"
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "details": json.dumps(row["details"], ensure_ascii=False)})
        body, mimetype = out.getvalue(), "text/csv"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=audit.{fmt}"
    return response
