"""What the public sees, as immutable values: components, incidents, maintenance."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from status import rules
from status.clock import utcnow
from status.config import Component, Config, Group
from status.models import Indicator, MaintenanceStatus
from status.snapshot.memo import ByIdentity

HISTORY_DAYS = 90
NARROW_DAYS = 30
"""Days of the bar a narrow screen shows (static/style.css hides the others)."""
RECENT = 50  # incidents and maintenances in the Statuspage lists


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
    edited_at: datetime | None = None  # the public timeline says "edited"


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
        return rules.is_closed(self.status)


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
        """The status at ``now`` (see :func:`status.rules.maintenance_status`)."""
        return rules.window_status(self, now)

    def is_active(self, now: datetime) -> bool:
        return not self.cancelled_at and self.effective_status(now) in rules.ACTIVE_MAINTENANCE

    def is_upcoming(self, now: datetime) -> bool:
        return not self.cancelled_at and self.effective_status(now) == MaintenanceStatus.SCHEDULED


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
        """Uptime over the (``last``) days with data, weighted like Statuspage; None without.

        Kept by the identity of ``days``, which a rebuild reuses for a component whose
        days did not change (status.snapshot.memo): the page asks for it on every render.
        """
        days = self.days[-last:] if last else self.days
        return _UPTIMES.get(self.days, lambda: rules.uptime_of([d.seconds for d in days]), last)


_UPTIMES = ByIdentity(keep=4096)


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

    def component_names(self, ids: Iterable[str]) -> list[str]:
        """Names in config order; ids no longer in the config last, as they are."""
        ids = set(ids)
        known = [v.config.name for v in self.components.values() if v.id in ids]
        return known + sorted(i for i in ids if i not in self.components)

    def indicator(self, now: datetime | None = None, *, last_known: bool = False) -> Indicator:
        """The page indicator, as Statuspage derives it.

        ``last_known``: from the statuses the Statuspage API reports (a silent component
        counts with the last status it had), so the API's indicator agrees with its
        components. The page itself judges by what it shows (``unknown`` is no outage).
        """
        return rules.overall_indicator(
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
