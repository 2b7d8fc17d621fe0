"""Building a snapshot: everything the public sees, read in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from status import rules
from status.clock import utcnow
from status.config import Component, Config
from status.models import ComponentStatus
from status.rollup import STATUS_COLUMNS
from status.snapshot.memo import BuildMemo
from status.snapshot.model import (
    HISTORY_DAYS,
    ComponentView,
    Day,
    Incident,
    Maintenance,
    Snapshot,
    Update,
)
from status.store import ComponentState, Store
from status.store.rollups import VERSION_KEY as ROLLUPS_VERSION


@dataclass(frozen=True)
class _Stored:
    """What the database says, read once per build."""

    states: dict[str, ComponentState]
    newest: dict[str, datetime]
    first_seen: dict[str, datetime]
    latencies: dict[str, float]
    last_known: dict[str, str]
    hourly: dict[str, list[tuple[str, float]]]
    rollups: dict[str, dict[date, Any]]

    @classmethod
    def read(cls, store: Store, first_day: date, now: datetime, memo: BuildMemo) -> _Stored:
        def read_rollups() -> dict[str, dict[date, Any]]:
            rollups: dict[str, dict[date, Any]] = {}
            for row in store.rollups.since(first_day):
                rollups.setdefault(row.component_id, {})[row.day] = row
            return rollups

        rollups = memo.rollups(store.meta.value(ROLLUPS_VERSION), first_day, read_rollups)
        return cls(
            states=store.components.states(),
            newest=store.probes.newest_results(),
            first_seen=store.components.first_seen(),
            latencies=store.probes.current_latencies(),
            last_known=store.components.last_known_statuses(),
            hourly=store.probes.hourly_latency(now - timedelta(hours=24)),
            rollups=rollups,
        )


def build(
    store: Store,
    config: Config,
    now: datetime | None = None,
    *,
    started_at: datetime | None = None,
    memo: BuildMemo | None = None,
) -> Snapshot:
    """Read everything the public sees, in a handful of queries.

    ``started_at``: when this process started, the time the status is known from while
    nothing was recorded yet (a fresh database). ``memo``: what the previous build of
    this process made, reused where its inputs did not change.
    """
    now = now or utcnow()
    memo = memo or BuildMemo()
    version = store.meta.data_version()
    today = now.astimezone(config.site.tz).date()
    first_day = today - timedelta(days=HISTORY_DAYS - 1)

    incidents = _timeline(store.incidents, "i", memo, _incident)
    maintenances = _timeline(store.maintenance, "m", memo, _maintenance)
    stored = _Stored.read(store, first_day, now, memo)
    touched = _incident_days(incidents, config.site.tz, first_day, today, now)
    # Never-recorded components need a created_at that stays put across rebuilds
    # (it feeds ETags): the oldest thing we know of, else when we started knowing.
    oldest = min(
        [*stored.first_seen.values(), *(i.created_at for i in incidents)],
        default=started_at or now,
    )
    bearing = _Bearing.of(
        incidents, maintenances, now, store.overrides.active(now), store.alerts.statuses(now)
    )
    components = {
        c.id: _component_view(
            c,
            stored,
            bearing,
            _days(c.id, stored, first_day, touched.get(c.id, {}), memo),
            oldest,
            now,
        )
        for c in config.components
    }
    memo.done()
    return Snapshot(
        version=version,
        built_at=now,
        config=config,
        components=components,
        incidents=incidents,
        maintenances=maintenances,
    )


def _timeline(repository, kind: str, memo: BuildMemo, make) -> list:
    """Every public incident (or window), its updates read only where they changed."""
    parents, signatures, components = repository.public_outline()
    keys = {
        row.id: (row, signatures.get(row.id), tuple(components.get(row.id, ()))) for row in parents
    }
    stale = [row.id for row in parents if not memo.knows(kind, row.id, keys[row.id])]
    updates = repository.updates_for(stale) if stale else {}
    return [
        memo.timeline(
            kind,
            row.id,
            keys[row.id],
            lambda row=row: make(row, updates.get(row.id, []), components.get(row.id, [])),
        )
        for row in parents
    ]


def _incident_days(
    incidents: list[Incident], tz: tzinfo, first_day: date, today: date, now: datetime
) -> dict[str, dict[date, list[int]]]:
    """component -> day -> the incidents that touched the component that day."""
    touched: dict[str, dict[date, list[int]]] = {}
    for incident in incidents:
        start = incident.started_at.astimezone(tz).date()
        end = (incident.resolved_at or now).astimezone(tz).date()
        for component_id in incident.components:
            day = max(start, first_day)
            while day <= min(end, today):
                touched.setdefault(component_id, {}).setdefault(day, []).append(incident.id)
                day += timedelta(days=1)
    return touched


def _days(
    component_id: str,
    stored: _Stored,
    first_day: date,
    touched: dict[date, list[int]],
    memo: BuildMemo,
) -> tuple[Day, ...]:
    """The component's history, oldest first, from its daily rollups."""
    incidents = tuple((day, tuple(ids)) for day, ids in sorted(touched.items()))
    key = (component_id, first_day, memo.generation, incidents)
    return memo.days(
        key, lambda: _make_days(stored.rollups.get(component_id, {}), first_day, touched)
    )


def _make_days(rollups: dict, first_day: date, touched: dict[date, list[int]]) -> tuple[Day, ...]:
    days = []
    for n in range(HISTORY_DAYS):
        day = first_day + timedelta(days=n)
        days.append(_day(day, rollups.get(day), tuple(touched.get(day, ()))))
    return tuple(days)


def _day(day: date, row, incidents: tuple[int, ...]) -> Day:
    seconds = (
        {s: float(getattr(row, column)) for s, column in STATUS_COLUMNS.items()}
        if row
        else {ComponentStatus.UNKNOWN.value: 86400.0}
    )
    return Day(
        day=day,
        uptime=rules.uptime_of([seconds]),
        seconds=seconds,
        checks=row.checks if row else 0,
        failures=row.failures if row else 0,
        latency_p50=row.latency_p50 if row else None,
        latency_p95=row.latency_p95 if row else None,
        incidents=incidents,
    )


@dataclass(frozen=True)
class _Bearing:
    """What open incidents and maintenance in progress say about each component."""

    incidents: dict[str, list[tuple[str, datetime]]]  # id -> (status, incident updated_at)
    maintenance: dict[str, datetime]  # id -> when its window started
    overrides: dict[str, tuple[str, datetime]]  # id -> (status, when it was set)
    alerts: dict[str, str]  # id -> the worst status its firing alerts give it

    @classmethod
    def of(
        cls,
        incidents: list[Incident],
        maintenances: list[Maintenance],
        now: datetime,
        overrides: dict | None = None,
        alerts: dict[str, str] | None = None,
    ):
        by_component: dict[str, list[tuple[str, datetime]]] = {}
        for incident in incidents:
            if not incident.resolved:
                for component_id, status in incident.components.items():
                    by_component.setdefault(component_id, []).append((status, incident.updated_at))
        started: dict[str, datetime] = {}
        for m in maintenances:
            if m.is_active(now):
                for component_id in m.components:
                    start = m.started_at or m.scheduled_for
                    started[component_id] = max(start, started.get(component_id, start))
        hand_set = {c: (row.status, row.created_at) for c, row in (overrides or {}).items()}
        return cls(by_component, started, hand_set, alerts or {})

    def status(self, component_id: str, status: str) -> str:
        """The status the component shows (:func:`status.rules.shown_status`)."""
        return rules.shown_status(
            status,
            [s for s, _ in self.incidents.get(component_id, ())],
            in_maintenance=component_id in self.maintenance,
            override=self.overrides[component_id][0] if component_id in self.overrides else None,
            alert=self.alerts.get(component_id),
        )

    def since(self, component_id: str) -> datetime | None:
        """When the newest incident or window bearing on the component last changed."""
        times = [at for _, at in self.incidents.get(component_id, ())]
        if component_id in self.maintenance:
            times.append(self.maintenance[component_id])
        if component_id in self.overrides:
            return self.overrides[component_id][1]
        return max(times, default=None)


def _component_view(
    component: Component,
    stored: _Stored,
    bearing: _Bearing,
    days: tuple[Day, ...],
    oldest: datetime,
    now: datetime,
) -> ComponentView:
    state = stored.states.get(component.id)
    probed = _probed(component, stored.states, stored.newest, now)
    status = bearing.status(component.id, probed)
    created = stored.first_seen.get(component.id, oldest)
    updated = state.updated_at if state else created
    if status != probed:  # an incident or a window gave it this status: it changed then
        updated = max(updated, bearing.since(component.id) or updated)
    unknown = status == ComponentStatus.UNKNOWN
    return ComponentView(
        config=component,
        status=status,
        since=state.since if state else None,
        created_at=created,
        updated_at=updated,
        latency_seconds=stored.latencies.get(component.id),
        days=days,
        latency_24h=tuple(
            (datetime.fromisoformat(hour + ":00+00:00"), value)
            for hour, value in stored.hourly.get(component.id, [])
        ),
        first_seen=stored.first_seen.get(component.id),
        known_status=(
            stored.last_known.get(component.id, ComponentStatus.OPERATIONAL.value)
            if unknown
            else status
        ),
    )


def _probed(
    component: Component, states: dict[str, ComponentState], newest: dict, now: datetime
) -> str:
    """Its stored status (probes, or set by hand), "unknown" when the probes fell silent."""
    state = states.get(component.id)
    return rules.current_status(
        component, state.status if state else None, newest.get(component.id), now
    )


def current_statuses(store: Store, config: Config, now: datetime) -> dict[str, str]:
    """Each component's status as :func:`build` derives it, read afresh (for /metrics)."""
    bearing = _Bearing.of(  # only what is open bears on a component now
        [_incident(*parts) for parts in store.incidents.public_open()],
        [_maintenance(*parts) for parts in store.maintenance.public_open()],
        now,
        store.overrides.active(now),
        store.alerts.statuses(now),
    )
    states, newest = store.components.states(), store.probes.newest_results()
    return {c.id: bearing.status(c.id, _probed(c, states, newest, now)) for c in config.components}


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
        edited_at=getattr(row, "edited_at", None),
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


def empty(config: Config) -> Snapshot:
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
