"""Daily rollups and raw-result retention, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from status import ops, rollup
from status.config import load_config

BERLIN_MIDNIGHT = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)  # 2026-11-20 00:00 in Berlin
DAY = timedelta(days=1)
H = timedelta(hours=1)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "status.yaml"
    path.write_text(
        "site: {title: T, url: 'https://status.test', timezone: Europe/Berlin}\n"
        "retention: {raw_days: 2}\n"
        "components:\n"
        "  - {id: api, name: API}\n"
        "  - {id: web, name: Web}\n"
    )
    return load_config(path)


def result(at: datetime, ok: bool = True, latency: float = 0.010) -> dict:
    return {
        "component_id": "api",
        "probe": "http",
        "region": "default",
        "started_at": at,
        "duration_seconds": latency,
        "latency_seconds": latency if ok else None,
        "ok": ok,
        "error": None if ok else "HTTP 503",
    }


@pytest.mark.parametrize(
    ("start_status", "changes", "expected"),
    [
        (None, [], {"seconds_unknown": 86400}),
        ("operational", [], {"seconds_operational": 86400}),
        (
            None,
            [(6 * H, "operational"), (12 * H, "major_outage"), (13 * H, "operational")],
            {"seconds_unknown": 6 * 3600, "seconds_operational": 17 * 3600, "seconds_major": 3600},
        ),
        (
            "partial_outage",
            [(1 * H, "unknown"), (3 * H, "under_maintenance")],
            {"seconds_partial": 3600, "seconds_unknown": 7200, "seconds_maintenance": 21 * 3600},
        ),
    ],
)
def test_it_counts_the_seconds_spent_in_each_status(start_status, changes, expected):
    start = BERLIN_MIDNIGHT
    seconds = rollup.seconds_per_status(
        start_status, [(start + offset, s) for offset, s in changes], start, start + DAY
    )
    assert {k: v for k, v in seconds.items() if v} == expected


def test_it_rolls_up_each_day_in_the_site_timezone(db, config):
    day1 = BERLIN_MIDNIGHT
    ops.set_component_status(db, "api", "operational", reason="", source="probe", at=day1 + 6 * H)
    ops.set_component_status(db, "api", "major_outage", reason="", source="probe", at=day1 + 12 * H)
    ops.set_component_status(db, "api", "operational", reason="", source="probe", at=day1 + 14 * H)
    latencies = [0.010, 0.020, 0.030, 0.040, 0.100]
    results = [result(day1 + 7 * H + n * H, latency=lat) for n, lat in enumerate(latencies)]
    results += [result(day1 + 12 * H + n * 60 * timedelta(seconds=1), ok=False) for n in range(3)]
    results.append(result(day1 - timedelta(minutes=1)))  # 23:59 the day before, in Berlin
    db.probes.record(results, [])

    report = rollup.run(db, config, now=day1 + DAY + 2 * H)

    assert report.days == [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)]
    rows = {(r.component_id, r.day): r for r in db.rollups.since(date(2026, 11, 1))}
    api = rows[("api", date(2026, 11, 20))]
    assert (api.checks, api.failures) == (8, 3)
    assert api.seconds_unknown == 6 * 3600
    assert api.seconds_major == 2 * 3600
    assert api.seconds_operational == 16 * 3600
    assert api.latency_p50 == pytest.approx(0.030)
    assert api.latency_p95 == pytest.approx(0.088)
    assert rows[("api", date(2026, 11, 19))].checks == 1
    today = rows[("api", date(2026, 11, 21))]
    assert today.seconds_operational == 2 * 3600  # only up to now, not the whole day
    assert rows[("web", date(2026, 11, 20))].seconds_unknown == 86400  # never monitored
    assert db.meta.value(rollup.DONE_KEY) == "2026-11-20"


def test_running_it_again_changes_nothing_but_today(db, config):
    day1 = BERLIN_MIDNIGHT
    db.probes.record([result(day1 + H), result(day1 + DAY + H)], [])
    rollup.run(db, config, now=day1 + DAY + 2 * H)
    before = {(r.component_id, r.day): r.checks for r in db.rollups.since(date(2026, 11, 1))}

    db.probes.record([result(day1 + DAY + 3 * H)], [])
    report = rollup.run(db, config, now=day1 + DAY + 4 * H)

    assert report.days == [date(2026, 11, 21)]
    after = {(r.component_id, r.day): r.checks for r in db.rollups.since(date(2026, 11, 1))}
    assert after == {**before, ("api", date(2026, 11, 21)): 2}


def test_it_prunes_raw_results_past_retention_in_batches_but_keeps_rollups(db, config):
    day1 = BERLIN_MIDNIGHT
    old = [result(day1 + n * timedelta(minutes=10)) for n in range(30)]
    recent = [result(day1 + 4 * DAY + H)]
    db.probes.record(old + recent, [])

    report = rollup.run(db, config, now=day1 + 4 * DAY + 2 * H, prune_batch=7)

    assert report.pruned == 30
    assert [r.started_at for r in db.probes.results("api")] == [day1 + 4 * DAY + H]
    kept = {r.day: r.checks for r in db.rollups.since(date(2026, 11, 1)) if r.component_id == "api"}
    assert kept[date(2026, 11, 20)] == 30  # the history outlives the raw data


def test_it_keeps_raw_results_of_days_not_yet_rolled_up(db, config):
    day1 = BERLIN_MIDNIGHT
    db.probes.record([result(day1 + H)], [])
    # Retention of 2 days has passed, but the day was never rolled up: roll up first.
    rollup.run(db, config, now=day1 + 3 * DAY)
    [first_day] = [r for r in db.rollups.since(date(2026, 11, 20), ["api"])][:1]
    assert (first_day.day, first_day.checks) == (date(2026, 11, 20), 1)
    assert db.probes.results("api") == []
