"""Security shared by every web surface: response headers (and, from the ops issue on,
CSRF, session and bearer authentication, ``require_role``).

Each surface states its policy here rather than in its own views, so a new console
form or API endpoint inherits it by living in its blueprint.
"""

from __future__ import annotations

from flask import Flask, Response, request

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


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
