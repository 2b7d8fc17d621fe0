"""The clock: maintenance windows start, complete and remind on time, overrides expire —
each exactly once, however many clocks run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from status import jobs, ops
from status.clock import utcnow
from status.config import load_config
from status.ops import clock

ALICE = ops.Actor("user", "alice@example.org")


def window(db, start, hours: float = 2.0, **extra) -> int:
    return ops.schedule_maintenance(
        db, ALICE, name="Upgrade", body="", scheduled_for=start,
        scheduled_until=start + timedelta(hours=hours), components=["db"], **extra,
    )  # fmt: skip


def kinds(db) -> list[str]:
    return [e.kind for e in db.events.after()]


def test_a_window_reminds_starts_and_completes_once_each_on_time(db):
    start = utcnow().replace(microsecond=0) + timedelta(hours=3)
    maintenance_id = window(db, start)
    assert clock.tick(db, start - timedelta(minutes=61)) == []
    assert clock.tick(db, start - timedelta(minutes=59)) == [
        f"maintenance.reminder:{maintenance_id}"
    ]
    assert clock.tick(db, start - timedelta(minutes=30)) == []
    assert clock.tick(db, start + timedelta(seconds=1)) == [f"maintenance.started:{maintenance_id}"]
    assert clock.tick(db, start + timedelta(seconds=2)) == []
    row = db.maintenance.get(maintenance_id)
    assert row.status == "in_progress" and row.started_at == start
    assert clock.tick(db, start + timedelta(hours=2)) == [f"maintenance.completed:{maintenance_id}"]
    assert db.maintenance.get(maintenance_id).completed_at == start + timedelta(hours=2)
    assert kinds(db) == ["maintenance.scheduled", "maintenance.reminder", "maintenance.started",
                         "maintenance.completed"]  # fmt: skip
    bodies = [u.body for u in db.maintenance.updates(maintenance_id)]
    assert bodies[1:] == ["The scheduled maintenance has started.",
                          "The scheduled maintenance has been completed."]  # fmt: skip
    assert {e.actor for e in db.audit.entries()[1:]} == {"system:clock"}


def test_cancelled_and_hand_run_windows_are_left_alone(db):
    start = utcnow() + timedelta(minutes=10)
    cancelled = window(db, start)
    ops.cancel_maintenance(db, ALICE, cancelled, body="Off.")
    manual = window(db, start, auto_transition=False)
    assert clock.tick(db, start - timedelta(minutes=1)) == [f"maintenance.reminder:{manual}"]
    assert clock.tick(db, start + timedelta(hours=5)) == []
    assert db.maintenance.get(manual).status == "scheduled"


def test_an_override_expires_by_itself(db):
    ops.set_override(db, ALICE, component="web", status="major_outage", reason="Blind",
                     expires_at=utcnow() + timedelta(minutes=5))  # fmt: skip
    assert clock.tick(db) == []
    later = utcnow() + timedelta(minutes=6)
    assert clock.tick(db, later) == ["component.override_expired:web"]
    assert db.overrides.active(later) == {} and clock.tick(db, later) == []
    assert [e.action for e in db.audit.entries()] == ["override.set", "override.expire"]


def test_two_clocks_racing_do_each_thing_once(db):
    start = utcnow() - timedelta(seconds=1)
    ids = [window(db, start, hours=1) for _ in range(5)]
    barrier = threading.Barrier(4)
    done: list[str] = []

    def race():
        barrier.wait()
        done.extend(clock.tick(db))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == sorted(f"maintenance.started:{i}" for i in ids)
    assert kinds(db).count("maintenance.started") == 5


def test_of_two_clock_workers_one_holds_the_lease_and_the_other_takes_over(db, config_file):
    config = load_config(config_file)
    stops = [threading.Event(), threading.Event()]
    workers = [
        threading.Thread(
            target=jobs.clock_worker(db, lambda: config, holder=f"w{n}", every=0.05,
                                     lease_seconds=0.5),
            args=(stops[n],),
            daemon=True,  # a failing assert must not leave pytest waiting for them
        )
        for n in range(2)
    ]  # fmt: skip
    for worker in workers:
        worker.start()
    try:
        hand_over(db, stops, workers)
    finally:
        for stop in stops:
            stop.set()
        for worker in workers:
            worker.join()


def hand_over(db, stops, workers) -> None:
    seen = set()
    for _ in range(10):
        stops[0].wait(0.05)
        holders = set(db.leases.live(jobs.LEASE).values())
        assert len(holders) <= 1
        seen |= holders
    assert len(seen) == 1  # the same one all along
    [first] = seen
    gone, other = int(first[1]), 1 - int(first[1])
    stops[gone].set()  # it stops (and lets go)
    workers[gone].join()
    deadline = time.monotonic() + 2
    while set(db.leases.live(jobs.LEASE).values()) != {f"w{other}"}:
        assert time.monotonic() < deadline, "the other worker never took the lease"
        time.sleep(0.02)


def test_a_moved_window_reminds_again(db):
    start = utcnow() + timedelta(minutes=30)
    maintenance_id = window(db, start)
    assert clock.tick(db) == [f"maintenance.reminder:{maintenance_id}"]
    later = start + timedelta(days=1)
    ops.reschedule_maintenance(
        db, ALICE, maintenance_id, scheduled_for=later, scheduled_until=later + timedelta(hours=1)
    )
    assert clock.tick(db) == []
    assert clock.tick(db, later - timedelta(minutes=30)) == [
        f"maintenance.reminder:{maintenance_id}"
    ]


def test_audit_entries_past_retention_are_purged_by_the_clock_and_the_chain_holds(db):
    old = utcnow() - timedelta(days=40)
    ops.set_override(db, ALICE, component="web", status="major_outage", reason="x")
    ops.clear_override(db, ALICE, component="web")
    assert clock.tick(db, old + timedelta(days=10), audit_days=30) == []  # nothing that old
    assert clock.tick(db, utcnow() + timedelta(days=31), audit_days=30) == ["audit.purge:2"]
    [entry] = db.audit.entries()
    assert entry.action == "audit.purge" and entry.actor == "system:clock"
    assert db.audit.verify() is None
    assert clock.tick(db, utcnow() + timedelta(days=32), audit_days=30) == []
