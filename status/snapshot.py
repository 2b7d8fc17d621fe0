"""The public data in one immutable object, rebuilt only when the data changed.

Status pages get 10-100x their usual traffic exactly when something breaks, so the
database stays out of the hot path: every public page, JSON document and feed is
rendered from a :class:`Snapshot`. :class:`SnapshotCache` checks the database's data
version at most once a second and rebuilds when it moved (or when the snapshot is a
minute old, for response times and today's uptime). When the database is unreachable
it keeps serving the last snapshot, marked stale, and never fails a request.

Rendered responses are cached per snapshot (:meth:`Snapshot.memo`), so a thundering
herd costs one render per change, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from probes.state import LATE_GRACE_SECONDS, silent
from status.config import Component, Config, Group
from status.models import ComponentStatus, Indicator
from status.store import ComponentState, Store, utcnow

log = logging.getLogger(__name__)

HISTORY_DAYS = 90
NARROW_DAYS = 30
"""Days of the bar a narrow screen shows (static/style.css hides the others)."""
RECENT = 50  # incidents and maintenances in the Statuspage lists
PARTIAL_OUTAGE_WEIGHT = 0.3  # as Statuspage: a partial outage counts as 30% downtime


@dataclass(frozen=True)
class Update:
    id: int
    status: str
    body: str
    created_at: datetime
    updated_at: datetime
    display_at: datetime
    # [{"code": component id, "old_status": ..., "new_status": ...}]
    affected_components: tuple[dict, ...] = ()
    deliver_notifications: bool = True


@dataclass(frozen=True)
class Incident:
    id: int
    name: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    components: dict[str, str]  # component id -> the status this incident gave it
    updates: tuple[Update, ...]  # newest first

    @property
    def resolved(self) -> bool:
        return self.status in ("resolved", "postmortem")


@dataclass(frozen=True)
class Maintenance:
    id: int
    name: str
    status: str  # as stored; see effective_status()
    impact: str
    created_at: datetime
    updated_at: datetime
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    sequence: int
    auto_transition: bool
    components: tuple[str, ...]
    updates: tuple[Update, ...]  # newest first

    def effective_status(self, now: datetime) -> str:
        """The status at ``now``: windows with auto_transition start and end on time."""
        if self.cancelled_at or self.status == "completed" or not self.auto_transition:
            return self.status
        if now >= self.scheduled_until:
            return "completed"
        if self.status == "scheduled" and now >= self.scheduled_for:
            return "in_progress"
        return self.status

    def is_active(self, now: datetime) -> bool:
        return not self.cancelled_at and self.effective_status(now) in ("in_progress", "verifying")

    def is_upcoming(self, now: datetime) -> bool:
        return not self.cancelled_at and self.effective_status(now) == "scheduled"


@dataclass(frozen=True)
class Day:
    """One day of a component's history (site timezone), from the daily rollup."""

    day: date
    uptime: float | None  # 0..1; None: no data that day
    seconds: dict[str, float]  # status -> seconds, incl. "unknown"
    checks: int = 0
    failures: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None
    incidents: tuple[int, ...] = ()  # ids of incidents touching the component that day


@dataclass(frozen=True)
class ComponentView:
    config: Component
    status: str  # a ComponentStatus value, "unknown" included
    since: datetime | None
    created_at: datetime
    updated_at: datetime
    latency_seconds: float | None  # the latest response time
    days: tuple[Day, ...]  # HISTORY_DAYS days, oldest first, today last
    latency_24h: tuple[tuple[datetime, float], ...]  # hourly means, oldest first
    # What the Statuspage API says: it has no "no data", so the last status we knew.
    known_status: str = "operational"
    first_seen: datetime | None = None  # when its status was first recorded

    @property
    def id(self) -> str:
        return self.config.id

    def uptime(self, last: int | None = None) -> float | None:
        """Uptime over the (``last``) days with data, weighted like Statuspage; None without."""
        days = self.days[-last:] if last else self.days
        return uptime_of([d.seconds for d in days])


@dataclass
class Snapshot:
    version: int
    built_at: datetime
    config: Config
    components: dict[str, ComponentView]  # in config order
    incidents: list[Incident]  # newest first
    maintenances: list[Maintenance]  # newest scheduled_for first
    database_ok: bool = True
    stale_since: datetime | None = None  # set while the database is unreachable
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- what the page shows ------------------------------------------------------------
    def sections(self) -> list[tuple[Group | None, list[ComponentView]]]:
        """Groups in config order with their components; ungrouped components last."""
        out: list[tuple[Group | None, list[ComponentView]]] = [
            (g, [self.components[c.id] for c in self.config.components_in(g.id)])
            for g in self.config.groups
        ]
        ungrouped = [v for v in self.components.values() if v.config.group is None]
        if ungrouped:
            out.append((None, ungrouped))
        return [(g, views) for g, views in out if views]

    def unresolved(self) -> list[Incident]:
        return [i for i in self.incidents if not i.resolved]

    def active_maintenances(self, now: datetime | None = None) -> list[Maintenance]:
        now = now or utcnow()
        return sorted(
            (m for m in self.maintenances if m.is_active(now)), key=lambda m: m.scheduled_for
        )

    def upcoming_maintenances(self, now: datetime | None = None) -> list[Maintenance]:
        now = now or utcnow()
        return sorted(
            (m for m in self.maintenances if m.is_upcoming(now)), key=lambda m: m.scheduled_for
        )

    def incident(self, incident_id: int) -> Incident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)

    def maintenance(self, maintenance_id: int) -> Maintenance | None:
        return next((m for m in self.maintenances if m.id == maintenance_id), None)

    def indicator(self, now: datetime | None = None, *, last_known: bool = False) -> Indicator:
        """The page indicator, as Statuspage derives it.

        ``last_known``: from the statuses the Statuspage API reports (a silent component
        counts with the last status it had), so the API's indicator agrees with its
        components. The page itself judges by what it shows (``unknown`` is no outage).
        """
        return overall_indicator(
            [v.known_status if last_known else v.status for v in self.components.values()],
            [i.impact for i in self.unresolved()],
            bool(self.active_maintenances(now)),
        )

    @property
    def updated_at(self) -> datetime:
        """When anything the public sees last changed: components, incidents, maintenance.

        Every incident counts, not only the newest: resolving an older one is a change.
        """
        times = [v.updated_at for v in self.components.values()]
        times += [i.updated_at for i in self.incidents]
        times += [m.updated_at for m in self.maintenances]
        return max(times, default=self.built_at)

    def peek(self, key: Any) -> Any:
        """What memo() holds for ``key``, or None."""
        return self._memo.get(key)

    def memo_size(self) -> int:
        return len(self._memo)

    def memo(self, key: Any, render: Callable[[], Any]) -> Any:
        """Render once per snapshot (and key); every later request gets the same object."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = render()
            return self._memo[key]


# -- rules ---------------------------------------------------------------------------------
INDICATOR_DESCRIPTIONS = {
    Indicator.NONE: "All Systems Operational",
    Indicator.MINOR: "Minor Service Outage",
    Indicator.MAJOR: "Partial System Outage",
    Indicator.CRITICAL: "Major Service Outage",
    Indicator.MAINTENANCE: "Service Under Maintenance",
}


def overall_indicator(
    statuses: list[str], open_impacts: list[str], maintenance_active: bool
) -> Indicator:
    """Statuspage's page indicator from component statuses and unresolved incidents.

    The worst of: components (major outage -> critical, partial -> major, degraded ->
    minor) and incident impacts; with nothing wrong but maintenance in progress (or a
    component under maintenance), ``maintenance``.
    """
    rank = [Indicator.NONE, Indicator.MINOR, Indicator.MAJOR, Indicator.CRITICAL]
    from_status = {
        ComponentStatus.DEGRADED_PERFORMANCE: Indicator.MINOR,
        ComponentStatus.PARTIAL_OUTAGE: Indicator.MAJOR,
        ComponentStatus.MAJOR_OUTAGE: Indicator.CRITICAL,
    }
    levels = [from_status.get(s, Indicator.NONE) for s in statuses]
    levels += [Indicator(i) if i in rank else Indicator.NONE for i in open_impacts]
    worst = max(levels, key=rank.index, default=Indicator.NONE)
    if worst == Indicator.NONE and (
        maintenance_active or ComponentStatus.UNDER_MAINTENANCE in statuses
    ):
        return Indicator.MAINTENANCE
    return worst


def default_status(component: Component) -> str:
    """The status of a component nothing was recorded for yet."""
    # Probed: no data until a probe reports. Set by hand and never set: operational.
    return ComponentStatus.UNKNOWN.value if component.probes else ComponentStatus.OPERATIONAL.value


def current_status(
    component: Component, state: ComponentState | None, newest: datetime | None, now: datetime
) -> str:
    """A component's status as readers are told it: the stored one, unless stale.

    ``state`` is its stored status row (or None), ``newest`` the time of its newest
    probe result. A probed component nobody reported on for too long is "unknown":
    the workers write that themselves, but when every worker is gone nobody is left to.
    """
    status = state.status if state else default_status(component)
    if (
        component.probes
        and status not in ("unknown", "under_maintenance")
        and silent((p.interval for p in component.probes), newest, now, grace=LATE_GRACE_SECONDS)
    ):
        return ComponentStatus.UNKNOWN.value
    return status


def uptime_of(days: list[dict[str, float]]) -> float | None:
    """Share of monitored time up: unknown and maintenance time are left out entirely."""
    total = down = 0.0
    for seconds in days:
        total += sum(v for k, v in seconds.items() if k not in ("unknown", "under_maintenance"))
        down += seconds.get("major_outage", 0.0)
        down += PARTIAL_OUTAGE_WEIGHT * seconds.get("partial_outage", 0.0)
    return None if total <= 0 else max(0.0, 1.0 - down / total)


# -- building ------------------------------------------------------------------------------
ROLLUP_STATUS = {
    "operational": "seconds_operational",
    "degraded_performance": "seconds_degraded",
    "partial_outage": "seconds_partial",
    "major_outage": "seconds_major",
    "under_maintenance": "seconds_maintenance",
    "unknown": "seconds_unknown",
}


def build(store: Store, config: Config, now: datetime | None = None) -> Snapshot:
    """Read everything the public sees, in a handful of queries."""
    now = now or utcnow()
    version = store.data_version()
    tz = config.site.tz
    today = now.astimezone(tz).date()
    first_day = today - timedelta(days=HISTORY_DAYS - 1)

    incidents = [_incident(row, updates, comps) for row, updates, comps in store.public_incidents()]
    maintenances = [
        _maintenance(row, updates, comps) for row, updates, comps in store.public_maintenances()
    ]
    states = store.component_states()
    newest = store.newest_results()
    first_seen = store.component_first_seen()
    latencies = store.current_latencies()
    last_known = store.last_known_statuses()
    hourly = store.hourly_latency(now - timedelta(hours=24))
    rollups: dict[str, dict[date, Any]] = {}
    for row in store.daily_rollups(first_day):
        rollups.setdefault(row.component_id, {})[row.day] = row

    incident_days: dict[tuple[str, date], list[int]] = {}
    for incident in incidents:
        start = incident.started_at.astimezone(tz).date()
        end = (incident.resolved_at or now).astimezone(tz).date()
        for component_id in incident.components:
            day = max(start, first_day)
            while day <= min(end, today):
                incident_days.setdefault((component_id, day), []).append(incident.id)
                day += timedelta(days=1)

    # Never-recorded components need a created_at that stays put across rebuilds
    # (it feeds ETags): the oldest thing we know of, else the Unix epoch.
    oldest = min(
        [*first_seen.values(), *(i.created_at for i in incidents)],
        default=datetime(1970, 1, 1, tzinfo=UTC),
    )
    components = {}
    for component in config.components:
        state = states.get(component.id)
        status = current_status(component, state, newest.get(component.id), now)
        days = []
        for n in range(HISTORY_DAYS):
            day = first_day + timedelta(days=n)
            row = rollups.get(component.id, {}).get(day)
            seconds = (
                {s: float(getattr(row, column)) for s, column in ROLLUP_STATUS.items()}
                if row
                else {"unknown": 86400.0}
            )
            days.append(
                Day(
                    day=day,
                    uptime=uptime_of([seconds]),
                    seconds=seconds,
                    checks=row.checks if row else 0,
                    failures=row.failures if row else 0,
                    latency_p50=row.latency_p50 if row else None,
                    latency_p95=row.latency_p95 if row else None,
                    incidents=tuple(incident_days.get((component.id, day), ())),
                )
            )
        created = first_seen.get(component.id, oldest)
        components[component.id] = ComponentView(
            config=component,
            status=status,
            since=state.since if state else None,
            created_at=created,
            updated_at=state.updated_at if state else created,
            latency_seconds=latencies.get(component.id),
            days=tuple(days),
            latency_24h=tuple(
                (datetime.fromisoformat(hour + ":00+00:00"), value)
                for hour, value in hourly.get(component.id, [])
            ),
            first_seen=first_seen.get(component.id),
            known_status=(
                last_known.get(component.id, "operational") if status == "unknown" else status
            ),
        )
    return Snapshot(
        version=version,
        built_at=now,
        config=config,
        components=components,
        incidents=incidents,
        maintenances=maintenances,
    )


def _update(row) -> Update:
    return Update(
        id=row.id,
        status=row.status,
        body=row.body,
        created_at=row.created_at,
        updated_at=row.updated_at,
        display_at=row.display_at,
        affected_components=tuple(getattr(row, "affected_components", None) or ()),
        deliver_notifications=row.deliver_notifications,
    )


def _incident(row, updates, components) -> Incident:
    return Incident(
        id=row.id,
        name=row.name,
        status=row.status,
        impact=row.impact,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        monitoring_at=row.monitoring_at,
        resolved_at=row.resolved_at,
        components={c.component_id: c.status for c in components},
        updates=tuple(_update(u) for u in updates),
    )


def _maintenance(row, updates, components) -> Maintenance:
    return Maintenance(
        id=row.id,
        name=row.name,
        status=row.status,
        impact=row.impact,
        created_at=row.created_at,
        updated_at=row.updated_at,
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        started_at=row.started_at,
        completed_at=row.completed_at,
        cancelled_at=row.cancelled_at,
        sequence=row.sequence,
        auto_transition=row.auto_transition,
        components=tuple(c.component_id for c in components),
        updates=tuple(_update(u) for u in updates),
    )


class SnapshotCache:
    """The current snapshot for one process; cheap to ask on every request.

    With ``background`` (the default outside tests) a due refresh runs in a thread of
    its own while requests keep getting the current snapshot: no visitor waits for the
    database or for a rebuild. The new snapshot is first handed to ``warm`` — which
    renders the most asked-for answers against it — and only then swapped in, so the
    first requests after a change find their answers ready (stale-while-revalidate).
    """

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        *,
        check_every: float = 1.0,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
        warm: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.check_every = check_every
        self.max_age = max_age
        self.clock = clock
        self.background = background
        self.warm = warm
        self._snapshot: Snapshot | None = None
        self._built = 0.0
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._refreshing = False
        self._pinned = threading.local()  # the warming thread sees the new snapshot

    def get(self) -> Snapshot:
        pinned = getattr(self._pinned, "snapshot", None)
        if pinned is not None:
            return pinned
        snapshot = self._snapshot
        if snapshot is not None and self.clock() - self._checked < self.check_every:
            return snapshot  # the hot path: no lock, no database
        if snapshot is not None and self.background:
            with self._lock:
                if self._refreshing or self.clock() - self._checked < self.check_every:
                    return self._snapshot
                self._refreshing = True
                self._checked = self.clock()
            threading.Thread(target=self._refresh_behind, name="snapshot", daemon=True).start()
            return snapshot
        with self._lock:
            if self._snapshot is not None and self.clock() - self._checked < self.check_every:
                return self._snapshot
            self._checked = self.clock()
            new = self._next()
            if new is not None:
                self._swap(new)
            return self._snapshot

    def _refresh_behind(self) -> None:
        try:
            new = self._next()
            if new is not None:
                if self.warm and new.database_ok:
                    self._pinned.snapshot = new
                    try:
                        self.warm(new)
                    except Exception:
                        log.exception("warming the new snapshot failed; serving it cold")
                    finally:
                        self._pinned.snapshot = None
                self._swap(new)
        finally:
            self._refreshing = False

    def _swap(self, new: Snapshot) -> None:
        if new.database_ok:
            self._built = self.clock()
        self._snapshot = new

    def _next(self) -> Snapshot | None:
        """A new snapshot, or None when the current one is still right."""
        current = self._snapshot
        config = self.config()
        try:
            if (
                current is not None
                and current.config is config
                and current.database_ok
                and self.clock() - self._built < self.max_age
                and self.store.data_version() == current.version
            ):
                return None
            return build(self.store, config)
        except Exception as exc:
            log.warning("cannot refresh the public snapshot: %s", str(exc).splitlines()[0])
            if current is None:
                return _empty(config)
            if not current.database_ok:
                return None  # already marked stale
            return Snapshot(
                version=current.version,
                built_at=current.built_at,
                config=current.config,
                components=current.components,
                incidents=current.incidents,
                maintenances=current.maintenances,
                database_ok=False,
                stale_since=utcnow(),
            )


def _empty(config: Config) -> Snapshot:
    """What to show when the database was never reachable: the components, no data."""
    now = utcnow()
    today = now.astimezone(config.site.tz).date()
    days = tuple(
        Day(day=today - timedelta(days=HISTORY_DAYS - 1 - n), uptime=None, seconds={})
        for n in range(HISTORY_DAYS)
    )
    components = {
        c.id: ComponentView(c, ComponentStatus.UNKNOWN.value, None, now, now, None, days, ())
        for c in config.components
    }
    return Snapshot(-1, now, config, components, [], [], database_ok=False, stale_since=now)
