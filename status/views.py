"""The public status page: /, /history, /incidents/<id>, /maintenance/<id>, /subscribe,
/favicon.svg.

Every page is rendered from the public snapshot through :func:`cached` — once per
snapshot, language and page — so a request never touches the database, and a page keeps
answering (marked stale) while the database is away. The view models here hold what the
templates show; the formatting lives in :mod:`status.i18n`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from flask import Blueprint, Flask, Response, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from status import i18n, markdown
from status.config import Component
from status.models import ComponentStatus, Indicator
from status.public_cache import cached
from status.runtime import runtime
from status.snapshot import (
    HISTORY_DAYS,
    NARROW_DAYS,
    ComponentView,
    Day,
    Incident,
    Maintenance,
    Snapshot,
)
from status.store import utcnow

log = logging.getLogger(__name__)
bp = Blueprint("public", __name__)

# The page has a sixth state the API cannot say: nothing known about any component.
NO_DATA = "no_data"
BANNER = {
    Indicator.NONE: _l("All Systems Operational"),
    Indicator.MINOR: _l("Minor Service Outage"),
    Indicator.MAJOR: _l("Partial System Outage"),
    Indicator.CRITICAL: _l("Major Service Outage"),
    Indicator.MAINTENANCE: _l("Service Under Maintenance"),
    NO_DATA: _l("No Current Status Data"),
}
# The icon of the banner: the component status that looks like the indicator.
BANNER_ICON = {
    Indicator.NONE: ComponentStatus.OPERATIONAL,
    Indicator.MINOR: ComponentStatus.DEGRADED_PERFORMANCE,
    Indicator.MAJOR: ComponentStatus.PARTIAL_OUTAGE,
    Indicator.CRITICAL: ComponentStatus.MAJOR_OUTAGE,
    Indicator.MAINTENANCE: ComponentStatus.UNDER_MAINTENANCE,
    NO_DATA: ComponentStatus.UNKNOWN,
}
COMPONENT_STATUS = {
    ComponentStatus.OPERATIONAL: _l("Operational"),
    ComponentStatus.DEGRADED_PERFORMANCE: _l("Degraded Performance"),
    ComponentStatus.PARTIAL_OUTAGE: _l("Partial Outage"),
    ComponentStatus.MAJOR_OUTAGE: _l("Major Outage"),
    ComponentStatus.UNDER_MAINTENANCE: _l("Under Maintenance"),
    ComponentStatus.UNKNOWN: _l("No data"),
}
INCIDENT_STATUS = {
    "investigating": _l("Investigating"),
    "identified": _l("Identified"),
    "monitoring": _l("Monitoring"),
    "resolved": _l("Resolved"),
    "postmortem": _l("Postmortem"),
}
MAINTENANCE_STATUS = {
    "scheduled": _l("Scheduled"),
    "in_progress": _l("In Progress"),
    "verifying": _l("Verifying"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
IMPACT = {
    "none": _l("No impact"),
    "minor": _l("Minor impact"),
    "major": _l("Major impact"),
    "critical": _l("Critical impact"),
}
# Worst first: the order a group's status and a day's colour are decided in.
SEVERITY = [
    ComponentStatus.MAJOR_OUTAGE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.UNKNOWN,
    ComponentStatus.OPERATIONAL,
]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
PAGE_ARG = re.compile(r"[1-9][0-9]{0,5}")


def label(mapping: dict, key: str) -> str:
    """The translated label of a status word; the word itself if we have none."""
    text = mapping.get(key)
    return str(text) if text is not None else key


# -- formatting bound to one language and zone ----------------------------------------------
@dataclass(frozen=True)
class Fmt:
    lang: str
    tz: tzinfo

    def when(self, moment: datetime) -> str:
        return i18n.format_when(moment, self.tz, self.lang)

    def time(self, moment: datetime) -> Markup:
        """A ``<time>`` the optional script may show in the reader's own zone."""
        return Markup('<time class="local" datetime="{}">{}</time>').format(
            moment.isoformat(), self.when(moment)
        )

    def day(self, day: date) -> str:
        return i18n.format_day(day, self.lang)

    def month(self, day: date) -> str:
        return i18n.format_month(day, self.lang)

    def uptime(self, share: float) -> str:
        return i18n.format_uptime(share, self.lang)

    def ms(self, seconds: float) -> str:
        return i18n.format_ms(seconds, self.lang)

    def duration(self, seconds: float) -> str:
        return i18n.format_duration(seconds, self.lang)


# -- view models ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DayView:
    day: date
    state: str  # a ComponentStatus value: the day's worst, or "unknown" for no data
    uptime: float | None
    durations: list[tuple[str, float]]  # (status, seconds) other than operational
    incidents: list[Incident]


@dataclass(frozen=True)
class Spark:
    points: str  # the polyline, in a 0..100 x 0..24 box
    low: float
    high: float


@dataclass(frozen=True)
class Row:
    view: ComponentView
    days: list[DayView] = field(default_factory=list)  # empty: no uptime bar (showcase off)
    spark: Spark | None = None

    @property
    def component(self) -> Component:
        return self.view.config

    @property
    def status(self) -> str:
        return self.view.status


@dataclass(frozen=True)
class Section:
    group_name: str | None
    rows: list[Row]

    @property
    def status(self) -> str:
        return worst(r.status for r in self.rows)


def worst(statuses) -> str:
    statuses = set(statuses)
    return next((s.value for s in SEVERITY if s in statuses), ComponentStatus.OPERATIONAL.value)


def day_view(day: Day, snapshot: Snapshot) -> DayView:
    bad = [s for s in SEVERITY[:3] if day.seconds.get(s, 0) > 0]
    if bad:
        state = bad[0].value
    elif day.seconds.get(ComponentStatus.OPERATIONAL, 0) > 0:
        state = ComponentStatus.OPERATIONAL.value
    elif day.seconds.get(ComponentStatus.UNDER_MAINTENANCE, 0) > 0:
        state = ComponentStatus.UNDER_MAINTENANCE.value
    else:
        state = ComponentStatus.UNKNOWN.value
    durations = [
        (s.value, day.seconds[s])
        for s in SEVERITY
        if s != ComponentStatus.OPERATIONAL and day.seconds.get(s, 0) >= 1
    ]
    if state == ComponentStatus.UNKNOWN:
        durations = []  # "No data" says it all
    incidents = [i for i in map(snapshot.incident, day.incidents) if i is not None]
    return DayView(day.day, state, day.uptime, durations, incidents)


def sparkline(series: tuple[tuple[datetime, float], ...]) -> Spark | None:
    """The last 24 hours of hourly mean response times as an SVG polyline, or None."""
    if len(series) < 2:
        return None
    # The window ends at the newest point (not at "now"), so the same data gives the same
    # bytes and the page's ETag survives snapshot rebuilds.
    end = series[-1][0]
    start = end - timedelta(hours=23)
    values = [v for _, v in series]
    low, high = min(values), max(values)
    span = high or 1.0
    points = " ".join(
        f"{max(0.0, (at - start).total_seconds()) / (23 * 3600) * 100:.1f},"
        f"{22 - value / span * 20:.1f}"
        for at, value in series
    )
    return Spark(points, low, high)


def visible(view: ComponentView) -> bool:
    return not (view.config.only_show_if_degraded and view.status == ComponentStatus.OPERATIONAL)


def sections(snapshot: Snapshot) -> list[Section]:
    out = []
    for group, views in snapshot.sections():
        rows = [
            Row(
                view,
                [day_view(d, snapshot) for d in view.days] if view.config.showcase else [],
                sparkline(view.latency_24h),
            )
            for view in views
            if visible(view)
        ]
        if rows:
            out.append(Section(group.name if group else None, rows))
    return out


def banner_state(snapshot: Snapshot, now: datetime) -> str:
    indicator = snapshot.indicator(now)
    statuses = {v.status for v in snapshot.components.values()}
    if indicator == Indicator.NONE and statuses == {ComponentStatus.UNKNOWN.value}:
        return NO_DATA
    return indicator.value


def component_names(snapshot: Snapshot, ids) -> list[str]:
    return [c.name for c in map(snapshot.config.component, ids) if c is not None]


# -- history: one calendar month per page, newest first ---------------------------------------
def month_start(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date().replace(day=1)


def months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def history_pages(snapshot: Snapshot, now: datetime) -> int:
    tz = snapshot.config.site.tz
    current = month_start(now, tz)
    starts = [i.started_at for i in snapshot.incidents]
    starts += [m.scheduled_for for m in snapshot.maintenances if m.scheduled_for <= now]
    if not starts:
        return 1
    oldest = month_start(min(starts), tz)
    return max(1, (current.year - oldest.year) * 12 + current.month - oldest.month + 1)


def in_month(moment: datetime, month: date, tz: tzinfo) -> bool:
    return month_start(moment, tz) == month


# -- rendering ------------------------------------------------------------------------------
def context(snapshot: Snapshot, lang: str, here: tuple[str, dict]) -> dict:
    """What every page's frame needs: site, language, switcher links, stale note, icon."""
    now = utcnow()
    endpoint, args = here
    site = snapshot.config.site
    return {
        "site": site,
        "lang": lang,
        "fmt": Fmt(lang, site.tz),
        "now": now,
        "state": banner_state(snapshot, now),
        "snapshot": snapshot,
        "languages": [(code, url_for(endpoint, **args, lang=code)) for code in site.languages]
        if len(site.languages) > 1
        else [],
        "stale": not snapshot.database_ok,
        "never_read": snapshot.version < 0,
        "markdown": markdown.render,
        "status_label": lambda s: label(COMPONENT_STATUS, s),
        "incident_status": lambda s: label(INCIDENT_STATUS, s),
        "maintenance_status": lambda m: label(
            MAINTENANCE_STATUS, "cancelled" if m.cancelled_at else m.effective_status(now)
        ),
        "maintenance_word": lambda s: label(MAINTENANCE_STATUS, s),
        "impact_label": lambda s: label(IMPACT, s),
        "component_names": lambda ids: component_names(snapshot, ids),
    }


def page(key: Hashable, render: Callable[[Snapshot, dict], str], **args: int | str) -> Response:
    """A public HTML page from the snapshot, per language (see the module docstring).

    ``key`` and ``args`` (the page's query arguments) must name everything the page
    depends on besides the snapshot and the language: the body is shared by all of them.
    """
    lang = i18n.language()
    here = (request.endpoint, {**(request.view_args or {}), **args})
    response = cached(
        (key, lang),
        lambda snapshot: render(snapshot, context(snapshot, lang, here)),
        "text/html",
        vary=i18n.VARY,
    )
    return i18n.remember_choice(response)


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


@bp.post("/subscribe")
def subscribe_request():
    """Until email subscriptions exist: say so, store nothing, point to the feeds.

    501: the server cannot do what the form asks, for anyone, for now. The subscribers
    issue replaces this view (and must add CSRF protection when it does).
    """
    snapshot = runtime().snapshot()
    ctx = context(snapshot, i18n.language(), ("public.subscribe", {}))
    html = render_template("public/subscribe.html", **ctx, unavailable=True)
    response = Response(html, status=501, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = i18n.VARY
    return response


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


def security_headers(response: Response) -> Response:
    """On every response of the app; a blueprint that needs other values sets its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    i18n.init_app(app)
    app.register_blueprint(bp)
    app.after_request(security_headers)
