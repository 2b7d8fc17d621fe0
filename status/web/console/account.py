"""/console/account: one's own password and second factor (TOTP)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from status import ops
from status.ops import sessions
from status.runtime import runtime
from status.web.console import bp, forms

PENDING = "totp_pending"  # a secret shown but not yet confirmed with a code


@bp.route("/account", methods=["GET", "POST"])
def account():
    store, user, ip = runtime().store, g.user, request.remote_addr
    action = forms.field("action")
    try:
        if action == "password":
            sessions.change_own_password(
                store, user, ip, current=request.form.get("current", ""),
                new=request.form.get("password", ""),
            )  # fmt: skip
            flash(_("Password changed; your other sessions ended."), "info")
        elif action == "totp_start":
            session[PENDING] = sessions.new_totp_secret()
        elif action == "totp_confirm":
            confirm_totp(store, user, ip)
        elif action == "totp_off":
            if not sessions.totp_matches(
                store.users.get(user.id).totp_secret or "", forms.field("code")
            ):
                raise ops.Invalid(_("is not the current code"), "code")
            sessions.set_totp(store, user, ip, None)
            flash(_("Two-factor login is off."), "info")
    except ops.OpsError as exc:
        flash(str(exc), "error")
    if request.method == "POST" and action != "totp_start":
        return redirect(url_for("console.account"))
    return render_account(store, user)


def confirm_totp(store, user, ip) -> None:
    secret = session.get(PENDING)
    if not secret or not sessions.totp_matches(secret, forms.field("code")):
        raise ops.Invalid(_("is not the current code of the new secret"), "code")
    sessions.set_totp(store, user, ip, secret)
    session.pop(PENDING, None)
    flash(_("Two-factor login is on."), "info")


def render_account(store, user):
    secret = session.get(PENDING)
    title = runtime().config.site.title
    return render_template(
        "console/account.html",
        has_totp=bool(store.users.get(user.id).totp_secret),
        pending=secret,
        uri=sessions.totp_uri(secret, user.username, title) if secret else None,
    )
