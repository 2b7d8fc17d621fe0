"""The public surface: the status page, the Statuspage v2 JSON API, the feeds and the
maintenance calendar, all served from the snapshot (``cache.cached``) and, for repeat
GETs, from the WSGI fast path; the static mirror writes the same answers to files.

No login, no per-visitor state: what one visitor gets, every visitor gets.
"""

from __future__ import annotations

from flask import Flask

from status.web.public import api_v2, documents, errors, fastpath, pages, subscriptions


def init_app(app: Flask) -> None:
    for blueprint in (pages.bp, api_v2.bp, documents.bp):
        app.register_blueprint(blueprint)
    subscriptions.init_app(app)
    errors.init_app(app)


def install_fast_path(app: Flask) -> None:
    """Last of all: the fast path wraps the finished WSGI app."""
    fastpath.init_app(app)
