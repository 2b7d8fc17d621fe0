"""Recurring maintenance windows: a series in the site's timezone across both DST
changes, its horizon extended by the clock exactly once, editing the series or one of
its windows, cancelling — on both engines."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from status import ops
from status.ops import clock

ALICE = ops.Actor("user", "alice@example.org")
BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2027, 10, 1, tzinfo=UTC)  # "now" when the series is scheduled
FIRST = datetime(2027, 10, 19, 2, 0, tzinfo=BERLIN)  # a Tuesday, summer time
BIWEEKLY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def schedule(db, rrule: str = BIWEEKLY, start: datetime = FIRST, **extra) -> int:
    return ops.schedule_series(
        db, ALICE, name="Database patching", body="Patch night.", scheduled_for=start,
        scheduled_until=start + timedelta(hours=2), rrule=rrule, timezone="Europe/Berlin",
        components=["db"], at=extra.pop("at", AT), **extra,
    )  # fmt: skip


def live(db, series_id: int) -> list:
    return [w for w in db.maintenance_series.occurrences(series_id) if w.cancelled_at is None]


def times(db, series_id: int) -> list[tuple[datetime, datetime]]:
    return [(w.scheduled_for, w.scheduled_until) for w in live(db, series_id)]


def test_a_biweekly_window_keeps_its_local_time_across_both_dst_changes(db):
    series_id = schedule(db)
    # Summer time until the last Sunday of October (31 Oct 2027): 02:00 local = 00:00 UTC,
    # then winter time: 01:00 UTC; 90 days ahead at most.
    assert times(db, series_id) == [
        (utc(2027, 10, 19, 0), utc(2027, 10, 19, 2)),
        (utc(2027, 11, 2, 1), utc(2027, 11, 2, 3)),
        (utc(2027, 11, 16, 1), utc(2027, 11, 16, 3)),
        (utc(2027, 11, 30, 1), utc(2027, 11, 30, 3)),
        (utc(2027, 12, 14, 1), utc(2027, 12, 14, 3)),
        (utc(2027, 12, 28, 1), utc(2027, 12, 28, 3)),
    ]
    later = utc(2028, 1, 20)
    done = clock.tick(db, later)
    assert f"maintenance_series.extended:{series_id}" in done
    # Summer time again from the last Sunday of March (26 Mar 2028): 00:00 UTC.
    assert [start for start, _ in times(db, series_id)][6:] == [
        utc(2028, 1, 11, 1), utc(2028, 1, 25, 1), utc(2028, 2, 8, 1), utc(2028, 2, 22, 1),
        utc(2028, 3, 7, 1), utc(2028, 3, 21, 1), utc(2028, 4, 4, 0), utc(2028, 4, 18, 0),
    ]  # fmt: skip
    assert all(w.scheduled_for.astimezone(BERLIN).hour == 2 for w in live(db, series_id))
    [created] = [e for e in db.audit.entries() if e.action == "maintenance_series.schedule"]
    assert created.details["rrule"] == BIWEEKLY and len(created.details["windows"]) == 6


def test_the_clock_extends_the_horizon_once_a_day_and_exactly_once(db):
    series_id = schedule(db)
    later = utc(2028, 1, 20)
    barrier = threading.Barrier(4)
    done: list[str] = []

    def race():
        barrier.wait()
        done.extend(d for d in clock.tick(db, later) if d.startswith("maintenance_series"))

    threads = [threading.Thread(target=race, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert done == [f"maintenance_series.extended:{series_id}"]
    assert len(live(db, series_id)) == 14
    assert clock.tick(db, later + timedelta(hours=12)) == []  # not every second
    assert db.maintenance_series.get(series_id).materialised_until == later + timedelta(days=90)
    extended = [e for e in db.audit.entries() if e.action == "maintenance_series.extend"]
    assert [(e.actor, len(e.details["windows"])) for e in extended] == [("system:clock", 8)]
    scheduled = [e for e in db.events.after() if e.kind == "maintenance.scheduled"]
    assert len(scheduled) == 14 and [e.notify for e in scheduled].count(True) == 1


def windows_moved(db, now: datetime) -> list[str]:
    return [d for d in clock.tick(db, now) if d.startswith("maintenance.")]


def test_the_clock_starts_and_completes_each_window_once(db):
    series_id = schedule(db)
    first, second = live(db, series_id)[:2]
    assert windows_moved(db, first.scheduled_for) == [f"maintenance.started:{first.id}"]
    assert windows_moved(db, first.scheduled_for + timedelta(seconds=1)) == []
    assert windows_moved(db, first.scheduled_until) == [f"maintenance.completed:{first.id}"]
    assert windows_moved(db, second.scheduled_for - timedelta(minutes=59)) == [
        f"maintenance.reminder:{second.id}"
    ]
    assert db.maintenance.get(second.id).status == "scheduled"
    assert [w.status for w in live(db, series_id)][:2] == ["completed", "scheduled"]


def test_editing_the_series_rewrites_its_windows_but_not_one_edited_by_itself(db):
    series_id = schedule(db)
    windows = live(db, series_id)
    moved, dropped = windows[1], windows[2]
    ops.reschedule_maintenance(db, ALICE, moved.id, scheduled_for=utc(2027, 11, 2, 4),
                               scheduled_until=utc(2027, 11, 2, 6))  # fmt: skip
    ops.cancel_maintenance(db, ALICE, dropped.id, body="Not this time.")
    assert db.maintenance.get(moved.id).detached and db.maintenance.get(dropped.id).detached

    ops.update_series(db, ALICE, series_id, name="Database and cache patching",
                      scheduled_for=datetime(2027, 10, 19, 3, 0, tzinfo=BERLIN),
                      components=["db", "cache"], body="Both.", at=AT)  # fmt: skip
    after = {w.id: w for w in db.maintenance_series.occurrences(series_id)}
    assert after[moved.id].scheduled_for == utc(2027, 11, 2, 4)  # left alone
    assert after[moved.id].name == "Database patching"
    assert after[dropped.id].cancelled_at is not None  # and not recreated:
    assert len(after) == len(windows)
    rewritten = [w for w in after.values() if w.id not in (moved.id, dropped.id)]
    assert {w.id for w in rewritten} == {w.id for w in windows} - {moved.id, dropped.id}
    assert [w.scheduled_for.astimezone(BERLIN).hour for w in rewritten] == [3] * 4
    assert {w.name for w in rewritten} == {"Database and cache patching"}
    assert all(w.sequence == 1 for w in rewritten)
    one = db.maintenance.one(rewritten[0].id)
    assert [u.body for u in one[1]] == ["Both."]
    assert sorted(c.component_id for c in one[2]) == ["cache", "db"]
    [entry] = [e for e in db.audit.entries() if e.action == "maintenance_series.update"]
    assert entry.details["before"]["start"] == "2027-10-19T02:00:00"
    assert entry.details["start"] == "2027-10-19T03:00:00"
    assert sorted(entry.details["rewritten"]) == sorted(w.id for w in rewritten)


def test_a_new_rule_moves_keeps_adds_and_removes_windows(db):
    series_id = schedule(db)
    before = live(db, series_id)
    ops.update_series(db, ALICE, series_id, rrule="FREQ=WEEKLY;BYDAY=TU", at=AT)
    weekly = live(db, series_id)
    assert len(weekly) == 11  # every Tuesday from 19 Oct to 28 Dec
    assert {w.id for w in before} <= {w.id for w in weekly}  # same starts, same windows
    assert all(w.sequence == 0 for w in weekly if w.id in {b.id for b in before})
    ops.update_series(db, ALICE, series_id, rrule="FREQ=MONTHLY;BYDAY=3TU", at=AT)
    monthly = live(db, series_id)
    assert [w.scheduled_for for w in monthly] == [
        utc(2027, 10, 19, 0), utc(2027, 11, 16, 1), utc(2027, 12, 21, 1)
    ]  # fmt: skip
    assert {w.id for w in monthly} <= {w.id for w in weekly}  # the others were removed
    assert len(db.maintenance_series.occurrences(series_id)) == 3


def test_cancelling_the_series_cancels_what_has_not_started(db):
    series_id = schedule(db)
    clock.tick(db, live(db, series_id)[0].scheduled_for + timedelta(minutes=5))
    running, *rest = live(db, series_id)
    cancelled = ops.cancel_series(db, ALICE, series_id, body="Patching moves to the vendor.",
                                  at=running.scheduled_for + timedelta(minutes=6))  # fmt: skip
    assert cancelled == [w.id for w in rest]
    assert db.maintenance.get(running.id).status == "in_progress"
    assert all(db.maintenance.get(w.id).cancelled_at is not None for w in rest)
    assert clock.tick(db, utc(2028, 3, 1)) == [f"maintenance.completed:{running.id}"]  # no more
    kinds = [e.kind for e in db.events.after() if e.kind == "maintenance.cancelled"]
    assert len(kinds) == len(rest)
    [entry] = [e for e in db.audit.entries() if e.action == "maintenance_series.cancel"]
    assert entry.details["windows"] == cancelled and entry.actor == "user:alice@example.org"
    with pytest.raises(ops.Invalid):
        ops.cancel_series(db, ALICE, series_id)
    with pytest.raises(ops.Invalid):
        ops.update_series(db, ALICE, series_id, name="Again")


@pytest.mark.parametrize(
    ("rrule", "hours", "field"),
    [
        ("FREQ=MINUTELY", 2, "rrule"),
        ("FREQ=HOURLY;INTERVAL=6", 2, "rrule"),
        ("FREQ=WEEKLY;BYHOUR=3", 2, "rrule"),
        ("every tuesday", 2, "rrule"),
        ("FREQ=WEEKLY;BYDAY=XX", 2, "rrule"),
        ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", 2, "rrule"),  # never
        ("FREQ=WEEKLY;UNTIL=20270101T000000Z", 2, "rrule"),  # over before it starts
        ("FREQ=DAILY", 25, "end"),  # windows would overlap
    ],
)
def test_it_refuses_rules_that_are_invalid_absurd_or_empty(db, rrule, hours, field):
    with pytest.raises(ops.Invalid) as refused:
        ops.schedule_series(
            db, ALICE, name="X", body="", scheduled_for=FIRST,
            scheduled_until=FIRST + timedelta(hours=hours), rrule=rrule,
            timezone="Europe/Berlin", at=AT,
        )  # fmt: skip
    assert refused.value.field == field
    assert db.maintenance.all() == [] and db.audit.entries() == []


def test_a_rare_window_exists_before_the_horizon_reaches_it(db):
    series_id = schedule(db, rrule="FREQ=YEARLY", start=datetime(2028, 6, 1, 22, tzinfo=BERLIN))
    [window] = live(db, series_id)
    assert window.scheduled_for == utc(2028, 6, 1, 20)
    clock.tick(db, utc(2028, 5, 1))
    assert len(live(db, series_id)) == 1  # the next one is a year later
