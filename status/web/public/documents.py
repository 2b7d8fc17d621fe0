"""Routes for the feeds and the maintenance calendar, served from the public snapshot.

``?component=<id>`` narrows each to what touched that component; an unknown id is a
404 rather than an empty feed, so a typo in a subscription URL shows up at once.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, request

from status.runtime import runtime
from status.snapshot import Snapshot
from status.web.public.cache import cached
from status.web.public.calendar import render_ics
from status.web.public.feeds import render_atom, render_rss

bp = Blueprint("feeds", __name__)


def _serve(name: str, render: Callable[[Snapshot, str | None], bytes], mimetype: str):
    component = request.args.get("component") or None
    if component is not None and component not in runtime().snapshot().components:
        abort(404)
    return cached((name, component), lambda snapshot: render(snapshot, component), mimetype)


@bp.get("/history.atom")
def history_atom() -> Response:
    return _serve("history.atom", render_atom, "application/atom+xml")


@bp.get("/history.rss")
def history_rss() -> Response:
    return _serve("history.rss", render_rss, "application/rss+xml")


@bp.get("/maintenance.ics")
def maintenance_ics() -> Response:
    return _serve("maintenance.ics", render_ics, "text/calendar")
