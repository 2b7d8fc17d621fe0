"""The public status page: /, /history, /incidents/<id>, /maintenance/<id>, /subscribe,
/favicon.svg (the subscribe form's POST and the subscription links: subscriptions.py).

Every page is rendered from the public snapshot through :func:`cached` — once per
snapshot, language and page — so a request never touches the database, and a page keeps
answering (marked stale) while the database is away. The view models are in
:mod:`status.web.public.viewmodels`, the words in :mod:`status.web.labels`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Hashable

from flask import Blueprint, Response, abort, render_template, request, url_for

from status import markdown
from status.clock import utcnow
from status.snapshot import HISTORY_DAYS, NARROW_DAYS, Maintenance, Snapshot
from status.web import language
from status.web.labels import (
    BANNER,
    BANNER_ICON,
    COMPONENT_STATUS,
    IMPACT,
    INCIDENT_STATUS,
    MAINTENANCE_STATUS,
    label,
)
from status.web.public import bars
from status.web.public.cache import cached
from status.web.public.viewmodels import (
    Fmt,
    banner_state,
    history_pages,
    in_month,
    month_start,
    months_back,
    sections,
)

log = logging.getLogger(__name__)
bp = Blueprint("public", __name__)

PAGE_ARG = re.compile(r"[1-9][0-9]{0,5}")


# -- rendering ------------------------------------------------------------------------------
def context(snapshot: Snapshot, lang: str, here: tuple[str, dict] | None) -> dict:
    """What every page's frame needs: site, language, switcher links, stale note, icon.

    ``here`` (endpoint, arguments) is where the language switcher links to; None: the
    same address (``?lang=de``), for pages any address may show (the error pages).
    """
    now = utcnow()
    site = snapshot.config.site
    fmt = Fmt(lang, site.tz)
    status_label = lambda s: label(COMPONENT_STATUS, s)  # noqa: E731
    return {
        "site": site,
        "lang": lang,
        "fmt": fmt,
        "now": now,
        "state": banner_state(snapshot, now),
        "snapshot": snapshot,
        "languages": [
            (code, url_for(here[0], **here[1], lang=code) if here else f"?lang={code}")
            for code in site.languages
        ]
        if len(site.languages) > 1
        else [],
        "stale": not snapshot.database_ok,
        "never_read": snapshot.version < 0,
        "markdown": markdown.render,
        "status_label": status_label,
        "bar": lambda row: bars.bar(row, fmt, status_label),
        "incident_status": lambda s: label(INCIDENT_STATUS, s),
        "maintenance_status": lambda m: label(
            MAINTENANCE_STATUS, "cancelled" if m.cancelled_at else m.effective_status(now)
        ),
        "maintenance_word": lambda s: label(MAINTENANCE_STATUS, s),
        "impact_label": lambda s: label(IMPACT, s),
        "component_names": snapshot.component_names,
    }


def page(key: Hashable, render: Callable[[Snapshot, dict], str], **args: int | str) -> Response:
    """A public HTML page from the snapshot, per language (see the module docstring).

    ``key`` and ``args`` (the page's query arguments) must name everything the page
    depends on besides the snapshot and the language: the body is shared by all of them.
    """
    lang = language.language()
    here = (request.endpoint, {**(request.view_args or {}), **args})
    response = cached(
        (key, lang),
        lambda snapshot: render(snapshot, context(snapshot, lang, here)),
        "text/html",
        vary=language.VARY,
    )
    return language.remember_choice(response)


@bp.get("/")
def index():
    def render(snapshot: Snapshot, ctx: dict) -> str:
        now = ctx["now"]
        return render_template(
            "public/index.html",
            **ctx,
            banner=label(BANNER, ctx["state"]),
            banner_icon=BANNER_ICON[ctx["state"]].value,
            incidents=snapshot.unresolved(),
            active=snapshot.active_maintenances(now),
            upcoming=snapshot.upcoming_maintenances(now),
            sections=sections(snapshot),
            history_days=HISTORY_DAYS,
            narrow_days=NARROW_DAYS,
        )

    return page("index", render)


@bp.get("/history")
def history():
    raw = request.args.get("page", "1")
    if not PAGE_ARG.fullmatch(raw):
        abort(404)
    number = int(raw)

    def render(snapshot: Snapshot, ctx: dict) -> str:
        now, tz = ctx["now"], snapshot.config.site.tz
        pages = history_pages(snapshot, now)
        if number > pages:
            abort(404)
        month = months_back(month_start(now, tz), number - 1)
        return render_template(
            "public/history.html",
            **ctx,
            month=month,
            number=number,
            pages=pages,
            incidents=[i for i in snapshot.incidents if in_month(i.started_at, month, tz)],
            maintenances=[
                m
                for m in sorted(snapshot.maintenances, key=lambda m: m.scheduled_for, reverse=True)
                if in_month(m.scheduled_for, month, tz)
            ],
        )

    return page(("history", number), render, page=number)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int):
    def render(snapshot: Snapshot, ctx: dict) -> str:
        found = snapshot.incident(incident_id)
        if found is None:
            abort(404)
        return render_template("public/incident.html", **ctx, incident=found)

    return page(("incident", incident_id), render)


@bp.get("/maintenance/<int:maintenance_id>")
def maintenance(maintenance_id: int):
    def render(snapshot: Snapshot, ctx: dict) -> str:
        found: Maintenance | None = snapshot.maintenance(maintenance_id)
        if found is None:
            abort(404)
        return render_template("public/maintenance.html", **ctx, maintenance=found)

    return page(("maintenance", maintenance_id), render)


@bp.get("/subscribe")
def subscribe():
    """The subscribe form on a page of its own (the same form is on ``/``)."""

    def render(snapshot: Snapshot, ctx: dict) -> str:
        return render_template("public/subscribe.html", **ctx, unavailable=False)

    return page("subscribe", render)


@bp.get("/favicon.svg")
def favicon():
    """The page's status as its icon, so a pinned tab shows trouble at a glance."""
    return cached(
        "favicon",
        lambda snapshot: render_template(
            "public/favicon.svg", state=BANNER_ICON[banner_state(snapshot, utcnow())].value
        ),
        "image/svg+xml",
    )
