"""Security shared by every web surface: response headers (and, from the ops issue on,
CSRF, session and bearer authentication, ``require_role``).

Each surface states its policy here rather than in its own views, so a new console
form or API endpoint inherits it by living in its blueprint.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""No third-party origins, no framing, forms only to ourselves."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://")
"""The app's one rate limiter (console login, subscriptions); it counts in this
process's memory (see docs/ops.md)."""


def security_headers(response: Response) -> Response:
    """On every response of the app; a blueprint that needs other values sets its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def private(response: Response) -> Response:
    """Console and API answers: someone's, never stored by a cache; HSTS under https."""
    response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


# -- sign-ups: the public form and POST /api/v1/subscribers share these limits ----------
def small_body() -> None:
    """Refuse (413) a body over SUBSCRIBE_MAX_BODY before anything reads it."""
    request.max_content_length = current_app.config["SUBSCRIBE_MAX_BODY"]


def _address_key() -> str:
    """The per-address limit's key: the address as sent (form or JSON), in lower case."""
    small_body()
    if request.is_json:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else None
    else:
        email = request.form.get("email")
    return "address:" + (email if isinstance(email, str) else "").strip().lower()[:254]


def subscription_limits(view):
    """Per IP (SUBSCRIBE_LIMIT) and per address (SUBSCRIBE_ADDRESS_LIMIT), one budget
    for the form and the API together."""
    per_ip = lambda: current_app.config["SUBSCRIBE_LIMIT"]  # noqa: E731
    per_address = lambda: current_app.config["SUBSCRIBE_ADDRESS_LIMIT"]  # noqa: E731
    view = limiter.shared_limit(per_address, "subscribe-address", key_func=_address_key)(view)
    return limiter.shared_limit(per_ip, "subscribe-ip")(view)


def webhook_limits(view):
    """A webhook registration counts against the sign-ups' per-IP budget (it has no
    address to count by: ``status.ops.webhooks`` caps registrations per URL)."""
    per_ip = lambda: current_app.config["SUBSCRIBE_LIMIT"]  # noqa: E731
    return limiter.shared_limit(per_ip, "subscribe-ip")(view)


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    app.config.setdefault("SUBSCRIBE_LIMIT", "10 per minute;60 per hour")
    app.config.setdefault("SUBSCRIBE_ADDRESS_LIMIT", "5 per hour")
    app.config.setdefault("SUBSCRIBE_MAX_BODY", 16 * 1024)  # a sign-up is a few hundred bytes
    limiter.init_app(app)
