"""The public snapshot: what it holds, when it is rebuilt, and what happens without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from status import ops, snapshot
from status.clock import utcnow
from status.config import load_config
from status.models import Indicator
from status.rules import overall_indicator, uptime_of
from status.snapshot import SnapshotCache
from status.store import Store, make_engine
from tests.conftest import MINIMAL_CONFIG

ACTOR = ops.Actor("user", "alice@example.org")


@pytest.fixture
def config(config_file):
    return load_config(config_file)


@pytest.mark.parametrize(
    ("statuses", "impacts", "maintenance", "expected"),
    [
        (["operational", "operational"], [], False, Indicator.NONE),
        (["operational", "degraded_performance"], [], False, Indicator.MINOR),
        (["partial_outage", "degraded_performance"], [], False, Indicator.MAJOR),
        (["major_outage", "partial_outage"], [], False, Indicator.CRITICAL),
        (["operational"], ["minor"], False, Indicator.MINOR),
        (["operational"], ["critical"], False, Indicator.CRITICAL),
        (["operational", "under_maintenance"], [], False, Indicator.MAINTENANCE),
        (["operational"], [], True, Indicator.MAINTENANCE),
        (["degraded_performance"], [], True, Indicator.MINOR),  # a problem outranks maintenance
        (["unknown", "operational"], [], False, Indicator.NONE),  # no data is not an outage
    ],
)
def test_the_page_indicator_follows_statuspage(statuses, impacts, maintenance, expected):
    assert overall_indicator(statuses, impacts, maintenance) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([{"operational": 86400}], 1.0),
        ([{"operational": 43200, "major_outage": 43200}], 0.5),
        ([{"operational": 86400 - 8640, "partial_outage": 8640}], 0.97),
        ([{"unknown": 43200, "operational": 43200}], 1.0),  # silence is left out, not "up"
        ([{"under_maintenance": 3600, "operational": 82800}], 1.0),
        ([{"unknown": 86400}], None),
        ([], None),
    ],
)
def test_uptime_leaves_out_time_without_data(days, expected):
    result = uptime_of(days)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_it_holds_components_incidents_maintenance_and_history(db, config):
    now = utcnow()
    ops.set_component_status(db, "sip-gateway", "major_outage", reason="down", source="probe")
    incident = ops.open_incident(
        db,
        ACTOR,
        name="Calls fail",
        status="investigating",
        impact="critical",
        body="We are looking into it.",
        components={"sip-gateway": "major_outage"},
        at=now - timedelta(hours=1),
    )
    ops.update_incident(db, ACTOR, incident, status="identified", body="Found it.", at=now)
    upcoming = ops.schedule_maintenance(
        db,
        ACTOR,
        name="Upgrade",
        body="New version.",
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=["website"],
    )
    active = ops.schedule_maintenance(
        db,
        ACTOR,
        name="Database move",
        body="Moving.",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=["website"],
    )
    db.rollups.save(
        [
            {
                "component_id": "sip-gateway",
                "day": now.date() - timedelta(days=1),
                "checks": 10,
                "failures": 5,
                "seconds_operational": 43200.0,
                "seconds_major": 43200.0,
            }
        ]
    )

    snap = snapshot.build(db, config, now)

    assert list(snap.components) == ["sip-gateway", "website"]
    gateway = snap.components["sip-gateway"]
    assert gateway.status == "major_outage"
    # No probes, never set by hand, and inside the window in progress.
    assert snap.components["website"].status == "under_maintenance"
    assert len(gateway.days) == 90 and gateway.days[-1].day == now.astimezone(config.site.tz).date()
    yesterday = [d for d in gateway.days if d.checks == 10]
    assert len(yesterday) == 1 and yesterday[0].uptime == pytest.approx(0.5)
    assert gateway.days[0].uptime is None  # no data that day
    assert incident in gateway.days[-1].incidents
    [open_incident] = snap.unresolved()
    assert [u.status for u in open_incident.updates] == ["identified", "investigating"]
    assert open_incident.updates[1].affected_components == (
        {"code": "sip-gateway", "old_status": "major_outage", "new_status": "major_outage"},
    )
    assert [m.id for m in snap.active_maintenances(now)] == [active]
    assert [m.id for m in snap.upcoming_maintenances(now)] == [upcoming]
    assert snap.maintenance(active).effective_status(now) == "in_progress"
    assert snap.indicator(now) == Indicator.CRITICAL


def test_the_statuspage_status_of_a_silent_component_is_the_last_one_known(db, config):
    ops.set_component_status(db, "website", "degraded_performance", reason="slow", source="probe")
    ops.set_component_status(db, "website", "unknown", reason="no data", source="probe")
    ops.set_component_status(db, "sip-gateway", "unknown", reason="no data", source="probe")
    views = snapshot.build(db, config).components
    assert (views["website"].status, views["website"].known_status) == (
        "unknown",
        "degraded_performance",
    )
    assert views["sip-gateway"].known_status == "operational"  # never knew anything


def test_the_page_was_updated_when_any_incident_or_window_last_changed(db, config):
    now = utcnow().replace(microsecond=0)
    older = ops.open_incident(
        db,
        ACTOR,
        name="Old",
        status="investigating",
        impact="minor",
        body="x",
        at=now - timedelta(days=2),
    )
    ops.open_incident(
        db,
        ACTOR,
        name="New",
        status="investigating",
        impact="minor",
        body="y",
        at=now - timedelta(hours=1),
    )
    assert snapshot.build(db, config).updated_at == now - timedelta(hours=1)

    ops.update_incident(
        db, ACTOR, older, status="resolved", body="Fixed.", at=now - timedelta(minutes=5)
    )
    assert snapshot.build(db, config).updated_at == now - timedelta(minutes=5)

    window = ops.schedule_maintenance(
        db,
        ACTOR,
        name="Upgrade",
        body="Soon.",
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=1),
        components=["website"],
        at=now - timedelta(days=3),
    )
    ops.update_maintenance(db, ACTOR, window, status="scheduled", body="Moved.", at=now)
    assert snapshot.build(db, config).updated_at == now


def test_the_api_indicator_counts_a_silent_component_with_its_last_status(db, config):
    ops.set_component_status(db, "website", "major_outage", reason="down", source="probe")
    ops.set_component_status(db, "website", "unknown", reason="no data", source="probe")
    snap = snapshot.build(db, config)
    assert snap.indicator(last_known=True) == Indicator.CRITICAL
    assert snap.indicator() == Indicator.NONE  # the page shows "No data", not an outage


def test_it_averages_the_last_24_hours_of_latency_per_hour(db, config):
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    hour = now.replace(minute=0)
    rows = [
        {
            "component_id": "website",
            "probe": "http",
            "region": "default",
            "started_at": at,
            "duration_seconds": lat,
            "latency_seconds": lat,
            "ok": True,
        }
        for at, lat in [
            (now - timedelta(hours=2), 0.010),
            (now - timedelta(hours=2, minutes=10), 0.030),
            (now - timedelta(minutes=5), 0.050),
            (now - timedelta(hours=30), 9.0),  # older than a day: not shown
        ]
    ]
    db.probes.record(rows, [])
    series = snapshot.build(db, config, now).components["website"].latency_24h
    assert [(at, pytest.approx(v)) for at, v in series] == [
        (hour - timedelta(hours=2), pytest.approx(0.020)),
        (hour, pytest.approx(0.050)),
    ]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_it_asks_the_database_at_most_once_a_second(db, config):
    clock = Clock()
    cache = SnapshotCache(db, lambda: config, clock=clock)
    first = cache.get()
    ops.set_component_status(db, "website", "major_outage", reason="x", source="console")
    assert cache.get() is first  # within the second: no database round trip
    clock.now += 0.5
    assert cache.get() is first
    clock.now += 0.6
    second = cache.get()
    assert second is not first and second.components["website"].status == "major_outage"
    clock.now += 1.1
    assert cache.get() is second  # data version unchanged: no rebuild


def test_rendered_output_is_kept_per_snapshot(db, config):
    cache = SnapshotCache(db, lambda: config, clock=Clock())
    calls = []
    snap = cache.get()
    assert snap.memo("page", lambda: calls.append(1) or "html") == "html"
    assert snap.memo("page", lambda: calls.append(1) or "other") == "html"
    assert calls == [1]


def test_it_keeps_serving_the_last_snapshot_when_the_database_is_gone(db, config):
    clock = Clock()
    cache = SnapshotCache(db, lambda: config, clock=clock)
    ops.set_component_status(db, "website", "partial_outage", reason="x", source="console")
    good = cache.get()
    cache.store = Store(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none"))
    clock.now += 2
    stale = cache.get()
    assert not stale.database_ok and stale.stale_since is not None
    assert stale.components["website"].status == "partial_outage"
    assert stale.built_at == good.built_at


def test_without_any_database_it_shows_the_components_without_data(config):
    cache = SnapshotCache(
        Store(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/x")), lambda: config
    )
    snap = cache.get()
    assert not snap.database_ok
    assert {v.status for v in snap.components.values()} == {"unknown"}
    assert MINIMAL_CONFIG  # the config the components come from
    assert date.today() - snap.components["website"].days[-1].day <= timedelta(days=1)


PROBED_CONFIG = MINIMAL_CONFIG.replace(
    "  - id: website\n    name: Website\n",
    "  - id: website\n    name: Website\n"
    "    probes: [{type: tcp, host: 127.0.0.1, port: 1, interval: 30s, timeout: 1s}]\n",
)
assert PROBED_CONFIG != MINIMAL_CONFIG


@pytest.mark.parametrize(
    ("last_result_ago", "shown"),
    [
        (None, "unknown"),  # never probed, though a status was stored
        (timedelta(seconds=30), "operational"),
        (timedelta(seconds=104), "operational"),  # three intervals and the 15 s grace
        (timedelta(minutes=10), "unknown"),  # every probe worker is gone
    ],
)
def test_it_shows_no_data_when_no_worker_is_left_to_say_so(db, tmp_path, last_result_ago, shown):
    path = tmp_path / "probed.yaml"
    path.write_text(PROBED_CONFIG)
    config = load_config(path)
    now = utcnow()
    ops.set_component_status(db, "website", "operational", reason="up", source="probe")
    if last_result_ago is not None:
        at = now - last_result_ago
        state = {"component_id": "website", "probe": "tcp", "region": "fra", "verdict": "up"}
        state |= {"failures": 0, "successes": 5, "slow": 0, "clean": 5, "last_result_at": at}
        state |= {"last_ok": True, "last_latency_seconds": 0.001, "last_error": None}
        db.probes.record([], [state])
    view = snapshot.build(db, config, now).components["website"]
    assert view.status == shown
    assert view.known_status == "operational"  # the v2 API goes on with the last known
