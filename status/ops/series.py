"""Recurring maintenance windows: schedule, edit and cancel a series; extend its horizon.

A series is an RRULE from a first start, kept as wall-clock time in its timezone, so a
window at 02:00 stays at 02:00 local time when the clocks change. Its windows are
ordinary maintenance windows (the public page, calendars, feeds, the clock and the
reminders see nothing new), created :data:`~status.rules.RECURRENCE_HORIZON` ahead;
the clock extends that horizon once a day (:func:`extend_series`).

Editing the series rewrites its windows that have neither started nor been edited by
themselves; a window edited or cancelled by itself is *detached* and left alone, and
a start the rule gave once is never created twice. Of several windows announced by one
command only the next one notifies subscribers (each has its event all the same).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule

from status import rules
from status.clock import utcnow
from status.models import MaintenanceStatus
from status.ops import audit, validate
from status.ops.actor import Actor
from status.ops.errors import Invalid, NotFound
from status.ops.maintenance import MAX_BODY, MAX_NAME
from status.store import Store, UnitOfWork

log = logging.getLogger(__name__)
HORIZON = rules.RECURRENCE_HORIZON
EXTEND_SLACK = timedelta(days=1)  # the horizon moves once a day, not every second
SCHEDULED = MaintenanceStatus.SCHEDULED.value
COMPLETED = MaintenanceStatus.COMPLETED.value


@dataclass(frozen=True)
class Plan:
    """A series' fields, checked, with its rule ready to expand."""

    name: str
    body: str
    components: list[str]
    rrule: str
    dtstart: datetime  # naive: wall-clock time in ``tz``
    tz: tzinfo
    duration: timedelta
    auto_transition: bool
    reminder_minutes: int
    rule: rrule

    def row(self) -> dict:
        return dict(
            name=self.name,
            body=self.body,
            components=self.components,
            rrule=self.rrule,
            dtstart=self.dtstart,
            timezone=str(self.tz),
            duration_seconds=int(self.duration.total_seconds()),
            auto_transition=self.auto_transition,
            reminder_minutes=self.reminder_minutes,
        )

    def starts(self, after: datetime, until: datetime) -> list[datetime]:
        return rules.occurrences(self.rule, self.tz, after, until)


def plan(
    *,
    name: str,
    body: str,
    start: datetime,
    end: datetime,
    rrule: str,
    timezone: str,
    components,
    auto_transition: bool = True,
    reminder_minutes: int = 60,
    known_components=None,
) -> Plan:
    """Check a series' fields (each refusal names its field)."""
    name = validate.text(name, "title", max_length=MAX_NAME)
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    validate.window(start, end)
    components = validate.component_ids(components, known_components, "components")
    if not 0 <= reminder_minutes <= 7 * 24 * 60:
        raise Invalid("must be from 0 to 10080 minutes", "reminder_minutes")
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown timezone {timezone!r}", "timezone") from None
    local = start.astimezone(tz).replace(tzinfo=None, microsecond=0)
    try:
        text = rules.check_rrule(rrule)
        rule = rules.recurrence(text, local, tz)
    except ValueError as exc:
        raise Invalid(str(exc), "rrule") from None
    return Plan(name, body, components, text, local, tz, end - start, auto_transition,
                reminder_minutes, rule)  # fmt: skip


def stored_plan(row) -> Plan:
    """The plan of a stored series."""
    tz = ZoneInfo(row.timezone)
    start = row.dtstart.replace(tzinfo=tz)
    return plan(
        name=row.name,
        body=row.body,
        start=start,
        end=start + timedelta(seconds=row.duration_seconds),
        rrule=row.rrule,
        timezone=row.timezone,
        components=row.components,
        auto_transition=row.auto_transition,
        reminder_minutes=row.reminder_minutes,
    )


def _upcoming(p: Plan, after: datetime, at: datetime) -> list[datetime]:
    """Starts after ``after`` within the horizon from ``at``; at least the next one (a
    yearly window shows before it is 90 days away), refused when too dense."""
    starts = p.starts(after, at + HORIZON)
    if len(starts) > rules.MAX_OCCURRENCES:
        raise Invalid(f"more than {rules.MAX_OCCURRENCES} windows in {HORIZON.days} days", "rrule")
    if any(b - a < p.duration for a, b in pairwise(starts)):
        raise Invalid("the windows would overlap: end before the next one starts", "end")
    if not starts:
        following = rules.next_occurrence(p.rule, p.tz, after)
        if following is None:
            raise Invalid("the rule gives no window after now", "rrule")
        starts = [following]
    return starts


def _create_windows(
    uow: UnitOfWork, series_id: int, p: Plan, starts: list[datetime], at: datetime, notify: bool
) -> list[int]:
    ids = []
    for start in starts:
        maintenance_id = uow.maintenance.create(
            name=p.name,
            status=SCHEDULED,
            scheduled_for=start,
            scheduled_until=start + p.duration,
            components=p.components,
            auto_transition=p.auto_transition,
            reminder_minutes=p.reminder_minutes,
            series_id=series_id,
            at=at,
        )
        uow.maintenance.add_update(maintenance_id, status=SCHEDULED, body=p.body, at=at)
        uow.events.record(
            "maintenance.scheduled",
            ("maintenance", maintenance_id),
            at=at,
            components=p.components,
            notify=notify and not ids,
            series_id=series_id,
        )
        ids.append(maintenance_id)
    return ids


def _described(p: Plan) -> dict:
    return {
        "name": p.name,
        "rrule": p.rrule,
        "start": p.dtstart.isoformat(),
        "timezone": str(p.tz),
        "duration_seconds": int(p.duration.total_seconds()),
        "components": p.components,
    }


def schedule_series(
    store: Store,
    actor: Actor,
    *,
    name: str,
    body: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    rrule: str,
    timezone: str,
    components=(),
    auto_transition: bool = True,
    reminder_minutes: int = 60,
    notify: bool = True,
    known_components=None,
    at: datetime | None = None,
) -> int:
    """A new series from its first window (``scheduled_for``..``scheduled_until``) and
    its rule, read in ``timezone``; its windows within the horizon exist at once (one
    running now included). Returns the series id."""
    at = at or utcnow()
    p = plan(name=name, body=body, start=scheduled_for, end=scheduled_until, rrule=rrule,
             timezone=timezone, components=components, auto_transition=auto_transition,
             reminder_minutes=reminder_minutes, known_components=known_components)  # fmt: skip
    starts = _upcoming(p, at - p.duration, at)
    with store.begin() as uow:
        series_id = uow.maintenance_series.create(
            **p.row(),
            created_at=at,
            updated_at=at,
            materialised_until=max(at + HORIZON, starts[-1]),
        )
        ids = _create_windows(uow, series_id, p, starts, at, notify)
        audit.record(uow, actor, "maintenance_series.schedule", ("maintenance_series", series_id),
                     at, **_described(p), windows=ids)  # fmt: skip
    return series_id


def update_series(
    store: Store,
    actor: Actor,
    series_id: int,
    *,
    name: str | None = None,
    body: str | None = None,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    rrule: str | None = None,
    components=None,
    notify: bool = True,
    known_components=None,
    at: datetime | None = None,
) -> None:
    """Change the series (what is not given stays; a new start alone keeps the length)
    and rewrite its windows that have not started and were not edited by themselves."""
    at = at or utcnow()
    with store.begin() as uow:
        before = _live(uow, series_id)
        old = stored_plan(before)
        start = scheduled_for or old.dtstart.replace(tzinfo=old.tz)
        end = scheduled_until or start + old.duration
        p = plan(name=old.name if name is None else name,
                 body=old.body if body is None else body, start=start, end=end,
                 rrule=rrule or old.rrule, timezone=str(old.tz),
                 components=old.components if components is None else components,
                 auto_transition=old.auto_transition, reminder_minutes=old.reminder_minutes,
                 known_components=known_components)  # fmt: skip
        changes = _rewrite(uow, series_id, old, p, at, notify)
        uow.maintenance_series.update(series_id, **p.row(), updated_at=at,
                                      materialised_until=changes.pop("until"))  # fmt: skip
        audit.record(uow, actor, "maintenance_series.update", ("maintenance_series", series_id),
                     at, before=_described(old), **_described(p), **changes)  # fmt: skip


def _live(uow: UnitOfWork, series_id: int):
    row = uow.maintenance_series.get(series_id)
    if row is None:
        raise NotFound(f"no maintenance series {series_id}", "id")
    if row.cancelled_at is not None:
        raise Invalid("the series was cancelled", "id")
    return row


def _rewrite(
    uow: UnitOfWork, series_id: int, old: Plan, p: Plan, at: datetime, notify: bool
) -> dict:
    """Pending windows take the new starts: each the start on its own day (in the
    series' timezone), the others in order; left-over windows go, missing ones are
    created. A day whose window was edited or cancelled by itself gets none."""
    pending = uow.maintenance_series.pending(series_id, at)
    kept = _days(p, uow.maintenance_series.taken_starts(series_id))
    kept -= _days(p, [w.occurrence_start for w in pending])
    starts = [s for s in _upcoming(p, at, at) if _day(p, s) not in kept]
    by_day = {_day(p, w.occurrence_start): w for w in pending}
    moves = [(by_day[_day(p, s)], s) for s in starts if _day(p, s) in by_day]
    others = [w for w in pending if _day(p, w.occurrence_start) not in _days(p, starts)]
    fresh = [s for s in starts if _day(p, s) not in by_day]
    moves += list(zip(others, fresh, strict=False))
    if _same_text(old, p):
        moves = [(w, s) for w, s in moves if w.scheduled_for != s]  # nothing else changed
    moves.sort(key=lambda move: move[1])
    uow.maintenance_series.rewrite(
        [(w.id, s) for w, s in moves], duration=p.duration, name=p.name, body=p.body,
        components=p.components, auto_transition=p.auto_transition,
        reminder_minutes=p.reminder_minutes, at=at,
    )  # fmt: skip
    for index, (window, start) in enumerate(moves):
        kind = "maintenance.rescheduled" if window.scheduled_for != start else "maintenance.updated"
        uow.events.record(kind, ("maintenance", window.id), at=at, components=p.components,
                          notify=notify and index == 0, series_id=series_id,
                          scheduled_for=start.isoformat(),
                          scheduled_until=(start + p.duration).isoformat())  # fmt: skip
    removed = [w.id for w in others[len(fresh) :]]
    uow.maintenance_series.remove(removed)
    created = _create_windows(uow, series_id, p, fresh[len(others) :], at, notify and not moves)
    until = max(at + HORIZON, starts[-1]) if starts else at + HORIZON
    return {"rewritten": [w.id for w, _ in moves], "removed": removed, "windows": created,
            "until": until}  # fmt: skip


def _same_text(a: Plan, b: Plan) -> bool:
    fields = ("name", "body", "components", "duration", "auto_transition", "reminder_minutes")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def _day(p: Plan, moment: datetime):
    return moment.astimezone(p.tz).date()


def _days(p: Plan, moments) -> set:
    return {_day(p, m) for m in moments}


def cancel_series(
    store: Store,
    actor: Actor,
    series_id: int,
    *,
    body: str = "",
    notify: bool = True,
    at: datetime | None = None,
) -> list[int]:
    """Call the series off: every window of it not started yet is cancelled (running
    ones go on). Returns the cancelled windows' ids."""
    body = validate.text(body, "body", max_length=MAX_BODY, required=False)
    at = at or utcnow()
    with store.begin() as uow:
        before = _live(uow, series_id)
        uow.maintenance_series.cancel(series_id, at)
        windows = uow.maintenance_series.unstarted(series_id)
        for index, row in enumerate(windows):
            uow.maintenance.set_status(row.id, COMPLETED, at, cancelled=True)
            uow.maintenance.add_update(row.id, status=COMPLETED, body=body, at=at)
            covered = [c.component_id for c in uow.maintenance.components(row.id)]
            uow.events.record("maintenance.cancelled", ("maintenance", row.id), at=at,
                              components=covered, notify=notify and index == 0,
                              series_id=series_id)  # fmt: skip
        ids = [row.id for row in windows]
        audit.record(uow, actor, "maintenance_series.cancel", ("maintenance_series", series_id),
                     at, name=before.name, windows=ids)  # fmt: skip
    return ids


def extend_series(store: Store, actor: Actor, now: datetime) -> list[str]:
    """The clock's part: every live series gets its windows up to the horizon from
    ``now``, once a day, exactly once however many clocks run (the horizon moves by a
    conditional update; a start has one window by a unique constraint)."""
    done = []
    for row in store.maintenance_series.due(now + HORIZON, EXTEND_SLACK):
        try:
            p = stored_plan(row)
        except (Invalid, KeyError, ValueError):  # e.g. a timezone this host lost
            log.exception("maintenance series %s cannot be expanded", row.id)
            continue
        with store.begin() as uow:
            if not uow.maintenance_series.advance(row.id, row.materialised_until, now + HORIZON):
                continue  # another clock did it
            taken = _days(p, uow.maintenance_series.taken_starts(row.id))
            starts = p.starts(row.materialised_until, now + HORIZON)
            starts = [s for s in starts if _day(p, s) not in taken]
            ids = _create_windows(uow, row.id, p, starts, now, notify=False)
            if ids:
                audit.record(uow, actor, "maintenance_series.extend",
                             ("maintenance_series", row.id), now, windows=ids,
                             until=(now + HORIZON).isoformat())  # fmt: skip
                done.append(f"maintenance_series.extended:{row.id}")
    return done
