"""A process's rebuilds reuse what did not change, and are never different for it.

Each step below changes something the public sees; after each, the snapshot built with
the memo of all the builds before must equal one built from nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from status import ops, snapshot
from status.clock import utcnow
from status.config import load_config
from status.snapshot.memo import BuildMemo

ACTOR = ops.Actor("user", "alice@example.org")


@pytest.fixture
def config(config_file):
    return load_config(config_file)


def rollup(day, failures: int) -> dict:
    return {
        "component_id": "sip-gateway",
        "day": day,
        "checks": 10,
        "failures": failures,
        "seconds_operational": 86400.0 - failures * 600,
        "seconds_major": failures * 600.0,
    }


def assert_same(db, config, memo, now) -> snapshot.Snapshot:
    remembered = snapshot.build(db, config, now, memo=memo)
    fresh = snapshot.build(db, config, now)
    assert remembered.components == fresh.components
    assert remembered.incidents == fresh.incidents
    assert remembered.maintenances == fresh.maintenances
    return remembered


def test_every_change_shows_in_a_build_that_reuses_the_last_one(db, config):
    now = utcnow()
    yesterday = now.astimezone(config.site.tz).date() - timedelta(days=1)
    memo = BuildMemo()
    db.rollups.save([rollup(yesterday, 1)])
    assert_same(db, config, memo, now)

    incident = ops.open_incident(
        db,
        ACTOR,
        name="Calls fail",
        status="investigating",
        impact="major",
        body="Looking.",
        components={"sip-gateway": "major_outage"},
        at=now - timedelta(days=1, hours=1),
    )
    snap = assert_same(db, config, memo, now)
    assert incident in snap.components["sip-gateway"].days[-2].incidents

    ops.update_incident(db, ACTOR, incident, status="identified", body="Found.", at=now)
    snap = assert_same(db, config, memo, now)
    assert [u.body for u in snap.incident(incident).updates] == ["Found.", "Looking."]
    update = snap.incident(incident).updates[0].id

    ops.edit_update(db, ACTOR, incident, update, body="Found it: a router.")
    snap = assert_same(db, config, memo, now)
    assert snap.incident(incident).updates[0].body == "Found it: a router."

    ops.delete_update(db, ACTOR, incident, update)
    snap = assert_same(db, config, memo, now)
    assert [u.body for u in snap.incident(incident).updates] == ["Looking."]

    db.rollups.save([rollup(yesterday, 7)])  # the housekeeping recomputed the day
    snap = assert_same(db, config, memo, now)
    assert snap.components["sip-gateway"].days[-2].failures == 7

    ops.resolve_incident(db, ACTOR, incident, body="Fixed.", at=now)
    snap = assert_same(db, config, memo, now)
    assert snap.incident(incident).resolved

    window = ops.schedule_maintenance(
        db, ACTOR, name="Upgrade", body="Soon.", components=["website"],
        scheduled_for=now + timedelta(hours=1), scheduled_until=now + timedelta(hours=2),
    )  # fmt: skip
    assert_same(db, config, memo, now)
    ops.update_maintenance(db, ACTOR, window, status="scheduled", body="Moved a bit.")
    snap = assert_same(db, config, memo, now)
    assert snap.maintenance(window).updates[0].body == "Moved a bit."
    series = ops.schedule_series(
        db, ACTOR, name="Patch day", body="Weekly.", components=["website"],
        scheduled_for=now + timedelta(days=3), scheduled_until=now + timedelta(days=3, hours=1),
        rrule="FREQ=WEEKLY", timezone="Europe/Berlin", at=now,
    )  # fmt: skip
    assert_same(db, config, memo, now)
    ops.update_series(db, ACTOR, series, body="Weekly, shorter.", at=now)
    snap = assert_same(db, config, memo, now)
    assert {m.updates[0].body for m in snap.maintenances if m.name == "Patch day"} == {
        "Weekly, shorter."
    }

    tomorrow = now + timedelta(days=1)  # a new day: the bars move on by one
    snap = assert_same(db, config, memo, tomorrow)
    assert snap.components["sip-gateway"].days[-3].failures == 7


def test_a_rebuild_reuses_unchanged_days_and_incidents(db, config):
    now = utcnow()
    ops.open_incident(
        db, ACTOR, name="Old", status="resolved", impact="minor", body="Done.", at=now
    )
    db.rollups.save([rollup(now.date() - timedelta(days=2), 3)])
    memo = BuildMemo()
    first = snapshot.build(db, config, now, memo=memo)
    ops.set_component_status(db, "website", "degraded_performance", reason="slow", source="probe")
    second = snapshot.build(db, config, now, memo=memo)

    assert second.version != first.version
    assert second.components["website"].status == "degraded_performance"
    assert second.components["sip-gateway"].days is first.components["sip-gateway"].days
    assert second.incidents[0] is first.incidents[0]


def bar_of(html: str, name: str) -> str:
    """The day bar of the component called ``name`` on the page."""
    start = html.index(f'aria-label="Daily uptime of {name}"')
    return html[start : html.index("</ol>", start)]


def test_the_page_rendered_from_reused_parts_shows_each_change(app, client):
    """The day cells and bars are found by identity after a rebuild (viewmodels, bars):
    a new incident on a day, and a day's rollup recomputed, still show in the bar."""
    from status.runtime import runtime

    store = runtime(app).store
    now = utcnow()
    today = now.astimezone(runtime(app).config.site.tz).date()
    store.rollups.save([rollup(today - timedelta(days=1), 1)])
    first = bar_of(client.get("/").text, "SIP Gateway")
    incident = ops.open_incident(
        store, ACTOR, name="Trunk flaps", status="investigating", impact="minor",
        body="Looking.", components={"sip-gateway": "degraded_performance"},
    )  # fmt: skip
    runtime(app).snapshots._checked = float("-inf")  # look again, with the same memo
    second = bar_of(client.get("/").text, "SIP Gateway")
    assert f'/incidents/{incident}">Trunk flaps</a>' in second
    assert "Trunk flaps" not in first
    store.rollups.save([rollup(today - timedelta(days=1), 90)])  # 15 h of outage now
    runtime(app).snapshots._checked = float("-inf")
    third = bar_of(client.get("/").text, "SIP Gateway")
    assert third != second and "15h" in third.replace(" ", "")
