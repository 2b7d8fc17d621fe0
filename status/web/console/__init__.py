"""/console: the ops console. Server-rendered, usable without JavaScript, en + de.

Every request but the login page needs a live session (``auth.py``: held on the server,
ended by logout, by 5 idle minutes, by a password change or by disabling the user).
Every POST carries the CSRF token of the session (Flask-WTF). Each view parses its
form and calls one :mod:`status.ops` command; roles are checked in the view
(``require``), so a refused action says so instead of failing later.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf

from status.runtime import runtime
from status.web import labels, language, security
from status.web.console import auth

bp = Blueprint("console", __name__, url_prefix="/console")
OPEN = {"console.login"}  # reachable without a session
SETUP = {"console.account", "console.logout"}  # reachable before a required second factor


@bp.before_request
def guard():
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except CSRFError:
            return auth.refused(400, "The form expired or did not come from this console.")
        except Exception:  # flask_wtf raises ValidationError for a missing or bad token
            return auth.refused(400, "The form expired or did not come from this console.")
    g.user = auth.current_user()
    if g.user is None and request.endpoint not in OPEN:
        ended = session.pop("sid", None) is not None  # it had one: idle, revoked, expired
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.login", next=target, ended=1 if ended else None))
    if g.user is not None and request.endpoint not in SETUP and auth.needs_second_factor(g.user):
        return redirect(url_for("console.account"))
    return None


@bp.context_processor
def frame():
    return {
        "csrf_token": generate_csrf,
        "user": g.get("user"),
        "local": local_time,
        "lang": language.language(),
        "word": word,
    }


WORDS = {
    "component": labels.COMPONENT_STATUS,
    "incident": labels.INCIDENT_STATUS,
    "impact": labels.IMPACT,
    "maintenance": labels.MAINTENANCE_STATUS,
}


def word(kind: str, value: str) -> str:
    """The translated word for a status or impact (the public page's words)."""
    return labels.label(WORDS[kind], value)


def local_time(moment) -> str:
    """``2026-12-01 02:00 CET``: the site's time, as the public page shows it."""
    if moment is None:
        return "—"
    local = moment.astimezone(runtime().config.site.tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


bp.after_request(security.private)
auth.register(bp)


def init_app(app: Flask) -> None:
    auth.init_app(app)
    app.register_blueprint(bp)


from status.web.console import account, admin, outbox, pages, subscribers  # noqa: E402, F401
