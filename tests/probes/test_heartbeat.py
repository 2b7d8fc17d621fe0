"""Heartbeats: the rule, the /ping endpoints and the token listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from probes import heartbeat
from status.config import HeartbeatProbe
from status.runtime import runtime

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SPEC = HeartbeatProbe(type="heartbeat", period=300, grace=60)
MIN = timedelta(minutes=1)


def row(ping: timedelta | None = None, fail: timedelta | None = None):
    """A heartbeat row created at T0, pinged/failed at T0 + the offsets given."""
    return SimpleNamespace(
        created_at=T0,
        last_ping_at=T0 + ping if ping is not None else None,
        last_fail_at=T0 + fail if fail is not None else None,
    )


@pytest.mark.parametrize(
    ("heartbeat_row", "now", "expected"),
    [
        (row(), T0 + 5 * MIN, None),  # new: waits for its first ping, no verdict yet
        (row(), T0 + 7 * MIN, "no ping received since 2026-11-24 12:00:00 UTC"),
        (row(ping=MIN), T0 + 6 * MIN, True),  # within period + grace
        (row(ping=MIN), T0 + 8 * MIN, "last ping 420s ago, expected every 300s"),
        (row(ping=MIN, fail=2 * MIN), T0 + 3 * MIN, "failure reported at 2026-11-24 12:02:00 UTC"),
        (row(ping=3 * MIN, fail=2 * MIN), T0 + 4 * MIN, True),  # a later ping clears it
    ],
)
def test_it_is_up_while_pings_come_in_time(heartbeat_row, now, expected):
    result = heartbeat.evaluate(SPEC, heartbeat_row, now)
    if expected is None:
        assert result is None
    elif expected is True:
        assert result.ok and result.error is None
    else:
        assert (result.ok, result.error) == (False, expected)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "status.yaml"
    path.write_text(
        "site: {title: T, url: 'https://status.test.example'}\n"
        "components:\n"
        "  - id: backups\n"
        "    name: Backups\n"
        "    probes: [{type: heartbeat, period: 1h, grace: 10m}]\n"
        "  - id: billing\n"
        "    name: Billing run\n"
        "    probes: [{type: heartbeat, id: nightly, period: 1d}]\n"
    )
    return path


def listed_urls(runner) -> dict[str, str]:
    result = runner.invoke(args=["heartbeats", "list"])
    assert result.exit_code == 0, result.output
    return dict(line.split("\t") for line in result.output.splitlines())


def test_it_lists_an_unguessable_url_per_heartbeat(runner):
    urls = listed_urls(runner)
    assert list(urls) == ["backups/heartbeat", "billing/nightly"]
    tokens = [url.removeprefix("https://status.test.example/ping/") for url in urls.values()]
    assert all(len(token) >= 32 for token in tokens) and len(set(tokens)) == 2
    assert listed_urls(runner) == urls  # stable across calls


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_a_ping_by_any_method_counts(app, runner, client, method):
    path = listed_urls(runner)["backups/heartbeat"].removeprefix("https://status.test.example")
    response = client.open(path, method=method)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    stored = runtime(app).store.heartbeats.get("backups", "heartbeat")
    assert stored.last_ping_at is not None
    assert heartbeat.evaluate(SPEC, stored, stored.last_ping_at + MIN).ok


def test_a_job_can_report_its_own_failure(app, runner, client):
    path = listed_urls(runner)["billing/nightly"].removeprefix("https://status.test.example")
    assert client.post(path).status_code == 200
    assert client.post(path + "/fail", data="exit code 2").status_code == 200
    stored = runtime(app).store.heartbeats.get("billing", "nightly")
    result = heartbeat.evaluate(SPEC, stored, stored.last_fail_at)
    assert not result.ok and result.error.startswith("failure reported at")


def test_an_unknown_token_is_not_found(client, runner):
    listed_urls(runner)
    for path in ("/ping/not-a-token", "/ping/not-a-token/fail", "/ping/" + "x" * 200):
        response = client.get(path)
        assert response.status_code == 404
