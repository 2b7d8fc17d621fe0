"""The web /metrics: status from the database at scrape time, clean for promtool."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from status import ops
from status.clock import utcnow
from status.runtime import runtime
from status.store import Store, make_engine
from tests.conftest import system_component_missing
from tests.test_snapshot import PROBED_CONFIG

ACTOR = ops.Actor("user", "alice@example.org")


def samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def status_of(values, component: str) -> list[str]:
    return [
        dict(labels)["status"]
        for (name, labels), value in values.items()
        if name == "leitstand_component_status"
        and dict(labels)["component"] == component
        and value == 1
    ]


def test_it_reports_each_components_status_one_hot(app, client):
    store = runtime(app).store
    ops.set_component_status(store, "sip-gateway", "major_outage", reason="down", source="console")
    ops.open_incident(
        store, ACTOR, name="Calls fail", status="investigating", impact="major", body="…"
    )
    values = samples(client)
    assert status_of(values, "sip-gateway") == ["major_outage"]
    assert status_of(values, "website") == ["operational"]  # by hand, never set
    assert values[("leitstand_incidents_open", ())] == 1
    assert values[("leitstand_database_up", ())] == 1
    assert values[("leitstand_subscribers", (("state", "confirmed"),))] == 0


def test_it_says_when_the_database_is_gone(app, client):
    runtime(app).store = Store(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/x"))
    values = samples(client)
    assert values[("leitstand_database_up", ())] == 0


def test_promtool_finds_nothing_to_complain_about(app, client):
    promtool = shutil.which("promtool")
    if not promtool:
        system_component_missing("promtool", "install Debian's prometheus package")
    ops.set_component_status(
        runtime(app).store, "website", "degraded_performance", reason="slow", source="console"
    )
    text = client.get("/metrics").get_data()
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert result.returncode == 0 and result.stdout + result.stderr == b"", result.stderr


@pytest.mark.parametrize(
    ("last_result_ago", "reported"),
    [
        (None, "unknown"),  # a status was stored, but no probe ever reported
        (timedelta(seconds=30), "operational"),
        (timedelta(minutes=10), "unknown"),  # every probe worker is gone
    ],
)
def test_a_component_no_worker_reports_on_is_reported_as_no_data(
    app, client, config_file, last_result_ago, reported
):
    config_file.write_text(PROBED_CONFIG)
    runtime(app).config_holder.reload()
    store = runtime(app).store
    ops.set_component_status(store, "website", "operational", reason="up", source="probe")
    if last_result_ago is not None:
        state = {"component_id": "website", "probe": "tcp", "region": "fra", "verdict": "up"}
        state |= {"failures": 0, "successes": 5, "slow": 0, "clean": 5}
        state |= {"last_result_at": utcnow() - last_result_ago, "last_ok": True}
        state |= {"last_latency_seconds": 0.001, "last_error": None}
        store.probes.record([], [state])
    assert status_of(samples(client), "website") == [reported]
