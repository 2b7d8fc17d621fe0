"""What the public pages show, prepared for the templates: rows, days, sparklines, banner
state, history months; and formatting bound to one language and zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from markupsafe import Markup

from status import i18n, rules
from status.config import Component
from status.models import ComponentStatus, Indicator
from status.snapshot import ComponentView, Day, Incident, Snapshot
from status.snapshot.memo import ByIdentity
from status.web.labels import NO_DATA, PARTIAL_DATA


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
        return rules.worst(r.status for r in self.rows)


def day_view(day: Day, snapshot: Snapshot) -> DayView:
    bad = [s for s in rules.SEVERITY[:3] if day.seconds.get(s, 0) > 0]
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
        for s in rules.SEVERITY
        if s != ComponentStatus.OPERATIONAL and day.seconds.get(s, 0) >= 1
    ]
    if state == ComponentStatus.UNKNOWN:
        durations = []  # "No data" says it all
    incidents = [i for i in map(snapshot.incident, day.incidents) if i is not None]
    return DayView(day.day, state, day.uptime, durations, incidents)


_DAY_VIEWS = ByIdentity(keep=1024)


def day_views(days: tuple[Day, ...], snapshot: Snapshot) -> list[DayView]:
    """The day cells of a component, made again only when its days or the incidents on
    them changed: a rebuild keeps the very same ``days`` for a component whose rollups
    and incidents did not change (status.snapshot.memo), and the same object for an
    unchanged incident, so both are found by identity. The same list comes back each
    time, which lets the day bar (bars.py) be found by identity too."""
    incidents = tuple(snapshot.incident(i) for day in days for i in day.incidents)
    # The incidents are held in the entry with the cells: their ids stay theirs.
    _, views = _DAY_VIEWS.get(
        days, lambda: (incidents, [day_view(d, snapshot) for d in days]), *map(id, incidents)
    )
    return views


SPARK_MIN_POINTS = 6
"""Hours of data before the 24 h sparkline is drawn: with fewer it is a stub at its edge."""


def sparkline(series: tuple[tuple[datetime, float], ...]) -> Spark | None:
    """The last 24 hours of hourly mean response times as an SVG polyline, or None
    while there are fewer than :data:`SPARK_MIN_POINTS` hours to draw."""
    if len(series) < SPARK_MIN_POINTS:
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
                day_views(view.days, snapshot) if view.config.showcase else [],
                sparkline(view.latency_24h),
            )
            for view in views
            if visible(view)
        ]
        if rows:
            out.append(Section(group.name if group else None, rows))
    return out


def banner_state(snapshot: Snapshot, now: datetime) -> str:
    """The indicator, but never more than was measured: "no data" when nothing is known,
    "operational where measured" when nothing is wrong but some components are silent."""
    indicator = snapshot.indicator(now)
    statuses = {v.status for v in snapshot.components.values()}
    if indicator == Indicator.NONE and ComponentStatus.UNKNOWN.value in statuses:
        return NO_DATA if statuses == {ComponentStatus.UNKNOWN.value} else PARTIAL_DATA
    return indicator.value


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
