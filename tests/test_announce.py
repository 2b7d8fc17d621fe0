"""Component status changes become `component.updated` events (what webhooks hear as
Statuspage's component_update): whatever changed the status, once per change."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import sqlalchemy as sa

from status import jobs, ops
from status.clock import utcnow
from status.config import load_config
from status.ops import clock
from status.ops.announce import announce_changes

ALICE = ops.Actor("user", "alice@example.org")


def updates(db) -> list[tuple[str, str, str]]:
    return [
        (e.object_id, e.data["old_status"], e.data["new_status"])
        for e in db.events.after()
        if e.kind == "component.updated"
    ]


def test_the_first_look_announces_nothing_then_each_change_once(db, config_file):
    config = load_config(config_file)
    assert announce_changes(db, config) == []  # first sight: noted, not announced
    assert updates(db) == []

    ops.set_component_status(db, "website", "major_outage", reason="down", source="test")
    assert announce_changes(db, config) == ["component.updated:website"]
    assert announce_changes(db, config) == []  # the same status: not again
    ops.set_component_status(db, "website", "operational", reason="up", source="test")
    announce_changes(db, config)
    assert updates(db) == [
        ("website", "operational", "major_outage"),
        ("website", "major_outage", "operational"),
    ]
    (event, _) = [e for e in db.events.after() if e.kind == "component.updated"]
    assert event.components == ["website"] and event.notify


def test_incidents_maintenance_and_overrides_change_what_is_announced(db, config_file):
    config = load_config(config_file)
    announce_changes(db, config)
    incident_id = ops.open_incident(
        db, ALICE, name="Calls failing", status="investigating", impact="major",
        body="Looking.", components={"sip-gateway": "partial_outage"},
    )  # fmt: skip
    announce_changes(db, config)
    ops.set_override(
        db, ALICE, component="website", status="degraded_performance", reason="slow pages"
    )
    announce_changes(db, config)
    ops.update_incident(db, ALICE, incident_id, status="resolved", body="Fixed.")
    ops.clear_override(db, ALICE, component="website")
    start = utcnow() - timedelta(minutes=1)
    ops.schedule_maintenance(
        db, ALICE, name="Upgrade", body="", scheduled_for=start,
        scheduled_until=start + timedelta(hours=1), components=["sip-gateway"],
    )  # fmt: skip
    clock.tick(db)  # the window starts
    announce_changes(db, config)
    assert updates(db) == [
        ("sip-gateway", "operational", "partial_outage"),
        ("website", "operational", "degraded_performance"),
        ("sip-gateway", "partial_outage", "under_maintenance"),  # config order
        ("website", "degraded_performance", "operational"),
    ]


def test_silent_probes_are_not_announced(db, tmp_path):
    path = tmp_path / "status.yaml"
    path.write_text(
        "site: {title: T, url: https://status.test.example}\n"
        "components:\n"
        "  - id: api\n"
        "    name: API\n"
        "    probes: [{type: tcp, host: 127.0.0.1, port: 9, interval: 1s}]\n"
    )
    config = load_config(path)
    assert announce_changes(db, config) == []  # no result yet: "unknown", nothing noted
    ops.set_component_status(db, "api", "operational", reason="up", source="probes")
    db.probes.record([], [probe_state(ok=True)])
    announce_changes(db, config)
    # Nothing reported for an hour: the page says "unknown", /api/v2 the last known.
    assert announce_changes(db, config, utcnow() + timedelta(hours=1)) == []
    ops.set_component_status(db, "api", "major_outage", reason="down", source="probes")
    db.probes.record([], [probe_state(ok=False)])
    announce_changes(db, config)
    assert updates(db) == [("api", "operational", "major_outage")]


def probe_state(ok: bool) -> dict:
    """What a worker leaves after a check's result: here, when the newest was."""
    verdict = "up" if ok else "down"
    return {"component_id": "api", "probe": "tcp", "region": "default", "verdict": verdict,
            "last_result_at": utcnow(), "last_ok": ok}  # fmt: skip


def test_two_processes_announcing_at_once_write_each_change_once(db, config_file):
    config = load_config(config_file)
    announce_changes(db, config)

    def race(barrier: threading.Barrier) -> None:
        barrier.wait()
        # SQLite: a writer that finds the database changed under it gives up; fine.
        with contextlib.suppress(sa.exc.OperationalError):
            announce_changes(db, config)

    for n, status in enumerate(["major_outage", "operational", "partial_outage"]):
        ops.set_component_status(db, "website", status, reason=str(n), source="test")
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=race, args=(barrier,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        announce_changes(db, config)  # whatever the race left undone
    assert [new for _, _, new in updates(db)] == ["major_outage", "operational", "partial_outage"]


def test_the_clock_worker_announces_a_change_within_a_tick(db, config_file):
    config = load_config(config_file)
    stopping = threading.Event()
    worker = threading.Thread(
        target=jobs.clock_worker(db, lambda: config, every=0.05, lease_seconds=1),
        args=(stopping,),
        daemon=True,
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while db.meta.value("announced_statuses") is None:  # its first look
            assert time.monotonic() < deadline
            time.sleep(0.02)
        ops.set_component_status(db, "sip-gateway", "major_outage", reason="x", source="test")
        while not updates(db):
            assert time.monotonic() < deadline, "the clock never announced the change"
            time.sleep(0.02)
    finally:
        stopping.set()
        worker.join()
    assert updates(db) == [("sip-gateway", "operational", "major_outage")]
