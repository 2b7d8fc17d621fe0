"""Logging in and out, the session of a request, and roles.

Login is rate-limited per address and per account (Flask-Limiter) and answers every
failure the same way. The cookie holds only a random token (in Flask's signed
session cookie, ``__Host-`` prefixed and Secure when the site is served over https);
the session itself is a row in the database (:mod:`status.ops.sessions`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from status.models import Role
from status.ops import sessions
from status.runtime import runtime
from status.web.security import limiter

RANK = [Role.VIEWER, Role.EDITOR, Role.ADMIN]


def init_app(app: Flask) -> None:
    app.config.setdefault("CONSOLE_LOGIN_LIMIT", "10 per minute")
    https = _site_is_https(app)
    app.config["SESSION_COOKIE_SECURE"] = https
    if https:  # the prefix promises Secure, Path=/ and no Domain: cookies only we set
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"


def _site_is_https(app: Flask) -> bool:
    try:
        return runtime(app).config.site.url.startswith("https://")
    except Exception:  # no valid config: the CLI only; it serves nothing
        return True


def current_user() -> sessions.SessionUser | None:
    idle = runtime().config.console.idle_timeout
    return sessions.current(runtime().store, session.get("sid"), idle=idle)


def needs_second_factor(user: sessions.SessionUser) -> bool:
    """An admin without one, where the config requires it: set it up before anything."""
    required = runtime().config.console.require_totp_for_admins
    return required and user.role == Role.ADMIN and not user.has_totp


def allows(have: str, need: Role) -> bool:
    return RANK.index(Role(have)) >= RANK.index(need)


def require(role: Role) -> Callable:
    """A view for ``role`` and above; others get 403 with the reason."""

    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not allows(g.user.role, role):
                return refused(403, _("This needs the %(role)s role.", role=role.value))
            return view(*args, **kwargs)

        return guarded

    return wrap


def refused(status: int, message: str):
    return render_template("console/refused.html", message=message), status


def actor():
    return g.user.actor(request.remote_addr)


def safe_next(target: str | None) -> str:
    """Only a path of the console: never an open redirect."""
    if target and target.startswith("/console") and not urlsplit(target).netloc:
        return target
    return url_for("console.dashboard")


def _account_key() -> str:
    return "account:" + request.form.get("username", "").strip().lower()


def login():
    store = runtime().store
    if request.method == "POST":
        try:
            token, _user = sessions.log_in(
                store,
                username=request.form.get("username", ""),
                password=request.form.get("password", ""),
                ip=request.remote_addr,
                lifetime=runtime().config.console.session_lifetime,
                code=request.form.get("code", ""),
            )
        except sessions.LoginFailed:
            flash(_("Wrong user name, password or code."), "error")
            return render_template("console/login.html"), 401
        session.clear()  # a new session id and CSRF token after login
        session["sid"] = token
        return redirect(safe_next(request.args.get("next")))
    if request.args.get("ended"):
        flash(_("Your session ended. Please log in again."), "info")
    return render_template("console/login.html")


def logout():
    if g.user is not None:
        sessions.log_out(runtime().store, g.user, request.remote_addr)
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("console.login"))


def register(bp) -> None:
    limit = current_limit()
    view = limiter.limit(limit, methods=["POST"])(
        limiter.limit(limit, key_func=_account_key, methods=["POST"])(login)
    )
    bp.add_url_rule("/login", "login", view, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])


def current_limit() -> Callable[[], str]:
    return lambda: current_app.config["CONSOLE_LOGIN_LIMIT"]
