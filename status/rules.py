"""The rules of status, in one pure place: no database, no Flask, no clock of its own.

- **worst-of**: a group, a day and a combined status take the worst of their parts, in
  the order of :data:`SEVERITY`; maintenance outranks only ``operational`` (and ``no
  data``), so a real outage during a window still shows. What a component shows is the
  worse of its probes' (or hand-set) status and its open incidents' (:func:`shown_status`).
- **the page indicator** (Statuspage's): from component statuses, open incidents'
  impacts and maintenance in progress (:func:`overall_indicator`).
- **no data**: a probed component nobody reported on for three intervals (plus the
  lease time a live worker's own region may be late) reads ``unknown`` (:func:`silent`,
  :func:`current_status`).
- **incidents**: which statuses close one, which timestamps a status sets, and when the
  probes open, escalate or resolve an incident of their own (:func:`auto_incident_step`).
- **maintenance**: a window's status at a moment, started and ended by the clock when it
  transitions automatically (:func:`maintenance_status`); the windows of a recurring
  series, from its RRULE in its timezone (:func:`recurrence`, :func:`occurrences`).
- **uptime**: monitored time up, weighted as Statuspage weighs a partial outage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from dateutil.rrule import rrule, rrulestr

from status.models import ComponentStatus, Impact, IncidentStatus, Indicator, MaintenanceStatus


def N_(message: str) -> str:
    """Marks a text for translation (pybabel -k N_) where it is defined, not where shown."""
    return message


# -- worst-of ------------------------------------------------------------------------------
SEVERITY: tuple[ComponentStatus, ...] = (
    ComponentStatus.MAJOR_OUTAGE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.UNKNOWN,
    ComponentStatus.OPERATIONAL,
)
"""Component statuses, worst first."""

OUTAGES = (ComponentStatus.MAJOR_OUTAGE.value, ComponentStatus.PARTIAL_OUTAGE.value)


def worst(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (operational when there are none)."""
    present = set(statuses)
    return next((s.value for s in SEVERITY if s in present), ComponentStatus.OPERATIONAL.value)


def shown_status(
    status: str,
    incident_statuses: Iterable[str],
    *,
    in_maintenance: bool,
    override: str | None = None,
    alert: str | None = None,
) -> str:
    """What a component shows (the page, /api/v2 and /metrics alike).

    ``status`` is the one its probes (or, for a component without probes, the last hand
    set one) give it, ``alert`` the one its firing Alertmanager alerts give it (the worse
    of the two counts), ``incident_statuses`` those its open incidents give it. In a
    maintenance window in progress it is under maintenance, whatever the probes and
    alerts say: what they see during the work is expected. While an incident is open it
    shows the worse of that and the incident's status, so an incident naming a component
    as a major outage makes it one, and an outage during maintenance still shows. An
    ``override`` (set by hand when the probes are wrong) wins over all of it.
    """
    if override is not None:
        return override
    if in_maintenance:
        base = ComponentStatus.UNDER_MAINTENANCE.value
    else:
        base = worst([status, alert]) if alert else status
    return worst([base, *incident_statuses])


# -- the page indicator --------------------------------------------------------------------
INDICATOR_DESCRIPTIONS = {
    Indicator.NONE: N_("All Systems Operational"),
    Indicator.MINOR: N_("Minor Service Outage"),
    Indicator.MAJOR: N_("Partial System Outage"),
    Indicator.CRITICAL: N_("Major Service Outage"),
    Indicator.MAINTENANCE: N_("Service Under Maintenance"),
}
"""Statuspage's words for each indicator (the API's ``description``, the page's banner)."""

_INDICATOR_RANK = [Indicator.NONE, Indicator.MINOR, Indicator.MAJOR, Indicator.CRITICAL]
_INDICATOR_OF_STATUS = {
    ComponentStatus.DEGRADED_PERFORMANCE: Indicator.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Indicator.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Indicator.CRITICAL,
}


def overall_indicator(
    statuses: list[str], open_impacts: list[str], maintenance_active: bool
) -> Indicator:
    """Statuspage's page indicator from component statuses and unresolved incidents.

    The worst of: components (major outage -> critical, partial -> major, degraded ->
    minor) and incident impacts; with nothing wrong but maintenance in progress (or a
    component under maintenance), ``maintenance``.
    """
    levels = [_INDICATOR_OF_STATUS.get(s, Indicator.NONE) for s in statuses]
    levels += [Indicator(i) if i in _INDICATOR_RANK else Indicator.NONE for i in open_impacts]
    top = max(levels, key=_INDICATOR_RANK.index, default=Indicator.NONE)
    if top == Indicator.NONE and (
        maintenance_active or ComponentStatus.UNDER_MAINTENANCE in statuses
    ):
        return Indicator.MAINTENANCE
    return top


# -- no data -------------------------------------------------------------------------------
STALE_AFTER_INTERVALS = 3
"""A region's verdict counts while its last result is younger than this many intervals."""
LATE_GRACE_SECONDS = 15.0
"""What a live worker's own region may be late beyond that (the lease time)."""


def silent(
    intervals: Iterable[float], newest: datetime | None, now: datetime, *, grace: float
) -> bool:
    """Whether no worker at all has reported on a component's checks for too long.

    For readers of the status (the public snapshot, /metrics): the workers write "no
    data" when a check falls silent, but when every worker is gone nobody is left to.
    """
    if newest is None:
        return True
    window = max(intervals, default=0.0) * STALE_AFTER_INTERVALS + grace
    return (now - newest).total_seconds() > window


class _Component(Protocol):
    @property
    def probes(self) -> list: ...


def default_status(component: _Component) -> str:
    """The status of a component nothing was recorded for yet."""
    # Probed: no data until a probe reports. Set by hand and never set: operational.
    return ComponentStatus.UNKNOWN.value if component.probes else ComponentStatus.OPERATIONAL.value


def current_status(
    component: _Component, stored: str | None, newest: datetime | None, now: datetime
) -> str:
    """A component's status as readers are told it: the stored one, unless stale.

    ``stored`` is its stored status (or None), ``newest`` the time of its newest probe
    result. A probed component nobody reported on for too long is "unknown".
    """
    status = stored or default_status(component)
    if (
        component.probes
        and status not in (ComponentStatus.UNKNOWN, ComponentStatus.UNDER_MAINTENANCE)
        and silent((p.interval for p in component.probes), newest, now, grace=LATE_GRACE_SECONDS)
    ):
        return ComponentStatus.UNKNOWN.value
    return status


# -- incidents -----------------------------------------------------------------------------
CLOSED = (IncidentStatus.RESOLVED.value, IncidentStatus.POSTMORTEM.value)
"""Incident statuses after which an incident is no longer open."""


def is_closed(status: str) -> bool:
    return status in CLOSED


def incident_times(status: str) -> tuple[bool, bool]:
    """Which of (``monitoring_at``, ``resolved_at``) a status sets, if not yet set."""
    return status == IncidentStatus.MONITORING, is_closed(status)


def auto_incident_step(old: str | None, new: str, has_open: bool) -> str | None:
    """What a status change does to the probes' own incident for the component.

    ``open`` on an outage with none open, ``escalate`` on an outage with one open (its
    component status follows), ``resolve`` when the component is operational again;
    None otherwise (degraded, no data, maintenance: nothing to say yet).
    """
    if new in OUTAGES:
        return "escalate" if has_open else "open"
    if has_open and new == ComponentStatus.OPERATIONAL:
        return "resolve"
    return None


def auto_incident_impact(status: str) -> str:
    return Impact.MAJOR.value if status == ComponentStatus.MAJOR_OUTAGE else Impact.MINOR.value


AUTO_INCIDENT_NAME = {
    ComponentStatus.MAJOR_OUTAGE: N_("%(name)s: major outage"),
    ComponentStatus.PARTIAL_OUTAGE: N_("%(name)s: partial outage"),
}
AUTO_INCIDENT_OPENED = N_("Our monitoring detected a problem with %(name)s. We are investigating.")
AUTO_INCIDENT_RESOLVED = N_("%(name)s is operational again. This incident has been resolved.")


# -- maintenance ---------------------------------------------------------------------------
def maintenance_status(
    stored: str,
    *,
    cancelled: bool,
    auto_transition: bool,
    scheduled_for: datetime,
    scheduled_until: datetime,
    now: datetime,
) -> str:
    """A window's status at ``now``: with auto_transition it starts and ends on time."""
    if cancelled or stored == MaintenanceStatus.COMPLETED or not auto_transition:
        return stored
    if now >= scheduled_until:
        return MaintenanceStatus.COMPLETED.value
    if stored == MaintenanceStatus.SCHEDULED and now >= scheduled_for:
        return MaintenanceStatus.IN_PROGRESS.value
    return stored


class _Window(Protocol):
    status: str
    cancelled_at: datetime | None
    auto_transition: bool
    scheduled_for: datetime
    scheduled_until: datetime


def window_status(window: _Window, now: datetime) -> str:
    """:func:`maintenance_status` of a stored window (a row or the snapshot's value)."""
    return maintenance_status(
        window.status,
        cancelled=window.cancelled_at is not None,
        auto_transition=window.auto_transition,
        scheduled_for=window.scheduled_for,
        scheduled_until=window.scheduled_until,
        now=now,
    )


MAINTENANCE_STARTED = N_("The scheduled maintenance has started.")
MAINTENANCE_COMPLETED = N_("The scheduled maintenance has been completed.")

ACTIVE_MAINTENANCE = (MaintenanceStatus.IN_PROGRESS.value, MaintenanceStatus.VERIFYING.value)


# -- recurring maintenance -----------------------------------------------------------------
RECURRENCE_HORIZON = timedelta(days=90)
"""A series' windows exist this far ahead; the clock extends the horizon once a day."""
MAX_OCCURRENCES = 100
"""At most this many windows of one series within the horizon (a daily one fits)."""
RRULE_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
RRULE_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH",
               "BYSETPOS", "WKST")  # fmt: skip
_SPAN_YEARS = 40  # a rule without a window in 40 (to 440) years never occurs, for us


def check_rrule(text: str) -> str:
    """An RFC 5545 RRULE (``FREQ=WEEKLY;INTERVAL=2;BYDAY=TU``, ``RRULE:`` optional),
    upper-cased; ValueError saying what is wrong. The time of day comes from the start,
    so no BYHOUR/BYMINUTE/BYSECOND, and nothing more often than daily."""
    body = (text or "").strip().upper().removeprefix("RRULE:")
    if not re.fullmatch(r"[A-Z0-9=;,+\-]{1,500}", body):
        raise ValueError("not a recurrence rule, e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=TU")
    parts: dict[str, str] = {}
    for part in body.split(";"):
        key, _, value = part.partition("=")
        if key not in RRULE_PARTS:
            raise ValueError(f"{key or part!r} is not allowed (use {', '.join(RRULE_PARTS)})")
        if not value or key in parts:
            raise ValueError(f"{key} needs exactly one value")
        parts[key] = value
    if parts.get("FREQ") not in RRULE_FREQUENCIES:
        raise ValueError(f"FREQ must be one of {', '.join(RRULE_FREQUENCIES)}")
    for key, most in (("INTERVAL", 1000), ("COUNT", 10_000)):
        if key in parts and not (parts[key].isdigit() and 1 <= int(parts[key]) <= most):
            raise ValueError(f"{key} must be a whole number from 1 to {most}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL exclude each other")
    return ";".join(f"{key}={value}" for key, value in parts.items())


def recurrence(text: str, start: datetime, tz: tzinfo) -> rrule:
    """The rule ``text`` from ``start`` (wall-clock time in ``tz``, naive): every window
    begins at that wall-clock time, whatever the offset (DST) is that day. An UNTIL in
    UTC (``...Z``) is read as that moment. ValueError when invalid or never occurring."""
    body = check_rrule(text)
    until = re.search(r"UNTIL=(\d{8}T\d{6})Z", body)
    if until:
        moment = datetime.strptime(until.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        local = moment.astimezone(tz).strftime("%Y%m%dT%H%M%S")
        body = body.replace(until.group(0), f"UNTIL={local}")
    try:
        rule = rrulestr(body, dtstart=start.replace(tzinfo=None, microsecond=0))
    except Exception as exc:  # dateutil raises what its parsers raise: all mean "invalid"
        raise ValueError(f"not a valid rule: {exc}") from None
    if not _ever(rule) or rule.after(rule._dtstart, inc=True) is None:
        raise ValueError("the rule gives no window at all")
    return rule


def _ever(rule: rrule) -> bool:
    """Whether an unbounded copy of the rule gives a window within 40 to 440 years.

    dateutil looks for a rule's next window until the year 9999, which takes seconds
    for a rule that has none (BYMONTH=2;BYMONTHDAY=30). The Gregorian calendar repeats
    every 400 years, so the copy starts as late as the same calendar allows.
    """
    start = rule._dtstart
    year = start.year + (9999 - _SPAN_YEARS - start.year) // 400 * 400
    try:
        late = rule.replace(dtstart=start.replace(year=year), until=None, count=None)
    except ValueError:  # 29 February: a leap year 400 years on is one too
        return False
    return late.after(late._dtstart, inc=True) is not None


def occurrences(rule: rrule, tz: tzinfo, after: datetime, until: datetime) -> list[datetime]:
    """The rule's window starts in UTC with ``after < start <= until`` (aware bounds).

    A start in the hour the clocks skip (spring) is read with the offset before the
    change (02:30 becomes 03:30 summer time); one the clocks repeat, as the first."""
    slack = timedelta(days=1)
    low, high = (m.astimezone(tz).replace(tzinfo=None) for m in (after - slack, until + slack))
    starts = (s.replace(tzinfo=tz).astimezone(UTC) for s in rule.between(low, high, inc=True))
    return [s for s in starts if after < s <= until]


def next_occurrence(rule: rrule, tz: tzinfo, after: datetime) -> datetime | None:
    """The first window start after ``after`` (UTC), or None when the rule has ended."""
    low = after.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    for start in rule.xafter(low, inc=True):
        moment = start.replace(tzinfo=tz).astimezone(UTC)
        if moment > after:
            return moment
    return None


# -- uptime --------------------------------------------------------------------------------
PARTIAL_OUTAGE_WEIGHT = 0.3
"""As Statuspage: a partial outage counts as 30% downtime."""
UNMONITORED = (ComponentStatus.UNKNOWN, ComponentStatus.UNDER_MAINTENANCE)


def uptime_of(days: list[dict[str, float]]) -> float | None:
    """Share of monitored time up: unknown and maintenance time are left out entirely."""
    total = down = 0.0
    for seconds in days:
        total += sum(v for k, v in seconds.items() if k not in UNMONITORED)
        down += seconds.get(ComponentStatus.MAJOR_OUTAGE, 0.0)
        down += PARTIAL_OUTAGE_WEIGHT * seconds.get(ComponentStatus.PARTIAL_OUTAGE, 0.0)
    return None if total <= 0 else max(0.0, 1.0 - down / total)
