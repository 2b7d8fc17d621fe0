"""What a component shows: its probes' (or hand-set) status, open incidents, maintenance —
the same on the page, in /api/v2 and on /metrics."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from status import ops, rules
from status.clock import utcnow
from status.runtime import runtime
from tests.test_metrics import samples, status_of
from tests.test_snapshot import PROBED_CONFIG
from tests.test_views import banner, fresh, get

ACTOR = ops.Actor("user", "alice@example.org")


@pytest.mark.parametrize(
    ("status", "incidents", "in_maintenance", "shown"),
    [
        ("operational", [], False, "operational"),
        ("operational", ["major_outage"], False, "major_outage"),  # the incident says so
        ("partial_outage", ["degraded_performance"], False, "partial_outage"),  # worse wins
        ("unknown", ["degraded_performance"], False, "degraded_performance"),
        ("operational", ["operational"], False, "operational"),
        ("degraded_performance", [], True, "under_maintenance"),  # set by hand, in a window
        ("major_outage", [], True, "under_maintenance"),  # the probes, during the work
        ("unknown", [], True, "under_maintenance"),
        ("major_outage", ["partial_outage"], True, "partial_outage"),  # an incident still shows
        ("operational", ["degraded_performance", "major_outage"], False, "major_outage"),
    ],
)
def test_a_component_shows_the_worse_of_its_status_and_its_open_incidents(
    status, incidents, in_maintenance, shown
):
    assert rules.shown_status(status, incidents, in_maintenance=in_maintenance) == shown


def component_status(html: str, name: str) -> str:
    """The status word beside a component on the page."""
    row = html.split(f'<span class="component-name">{name}</span>')[1]
    return re.search(r'<span class="status status-(\w+)">', row).group(1)


def everywhere(app, client, component: str) -> tuple[str, str, list[str]]:
    """(page, /api/v2/components.json, /metrics) status of ``component``."""
    fresh(app)
    name = runtime(app).config.component(component).name
    page = component_status(get(client), name)
    api = {c["id"]: c["status"] for c in client.get("/api/v2/components.json").json["components"]}
    return page, api[component], status_of(samples(client), component)


def test_an_incident_naming_a_component_sets_its_status_everywhere_while_open(app, client):
    store = runtime(app).store
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Portal down",
        status="investigating",
        impact="critical",
        body="Nobody can log in.",
        components={"website": "major_outage"},
    )
    assert everywhere(app, client, "website") == ("major_outage", "major_outage", ["major_outage"])
    assert banner(get(client)) == ("critical", "Major Service Outage")
    assert client.get("/api/v2/status.json").json["status"]["indicator"] == "critical"
    updated = client.get("/api/v2/components.json").json["components"]
    website = next(c for c in updated if c["id"] == "website")
    incident_json = client.get("/api/v2/incidents/unresolved.json").json["incidents"][0]
    assert website["updated_at"] == incident_json["updated_at"]  # it changed with the incident

    ops.resolve_incident(store, ACTOR, incident, body="Back.")
    assert everywhere(app, client, "website") == ("operational", "operational", ["operational"])


def test_a_component_set_by_hand_is_under_maintenance_in_a_window(app, client):
    store = runtime(app).store
    ops.set_component_status(store, "website", "degraded_performance", reason="t", source="t")
    now = utcnow()
    ops.schedule_maintenance(
        store,
        ACTOR,
        name="Database move",
        body="Moving.",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=["website"],
    )
    shown = ("under_maintenance", "under_maintenance", ["under_maintenance"])
    assert everywhere(app, client, "website") == shown
    assert banner(get(client)) == ("maintenance", "Service Under Maintenance")


def test_maintenance_still_hides_what_the_probes_see_but_not_an_incident(app, client):
    holder = runtime(app).config_holder
    with open(holder.path, "w") as f:
        f.write(PROBED_CONFIG)
    assert holder.reload()
    store = runtime(app).store
    now = utcnow()
    # The probes saw it down a moment ago; the window had just not been noticed yet.
    ops.set_component_status(store, "website", "major_outage", reason="down", source="probe")
    state = {"component_id": "website", "probe": "tcp", "region": "fra", "verdict": "down"}
    state |= {"failures": 5, "successes": 0, "slow": 0, "clean": 0, "last_result_at": now}
    state |= {"last_ok": False, "last_latency_seconds": None, "last_error": "refused"}
    store.probes.record([], [state])
    ops.schedule_maintenance(
        store,
        ACTOR,
        name="Restart",
        body="Restarting.",
        scheduled_for=now - timedelta(minutes=1),
        scheduled_until=now + timedelta(hours=1),
        components=["website"],
    )
    shown = ("under_maintenance", "under_maintenance", ["under_maintenance"])
    assert everywhere(app, client, "website") == shown

    ops.open_incident(
        store,
        ACTOR,
        name="Restart takes longer",
        status="identified",
        impact="major",
        body="Half the nodes are still down.",
        components={"website": "partial_outage"},
    )
    assert everywhere(app, client, "website") == (
        "partial_outage",
        "partial_outage",
        ["partial_outage"],
    )


@pytest.mark.parametrize(
    ("incidents", "in_maintenance"),
    [([], False), (["major_outage"], False), ([], True), (["partial_outage"], True)],
)
def test_an_override_wins_over_probes_incidents_and_maintenance(incidents, in_maintenance):
    shown = rules.shown_status(
        "major_outage", incidents, in_maintenance=in_maintenance, override="operational"
    )
    assert shown == "operational"


def test_an_override_shows_on_the_page_the_api_and_metrics_until_cleared(app, client):
    store = runtime(app).store
    ops.set_component_status(store, "website", "operational", reason="t", source="t")
    ops.set_override(store, ACTOR, component="website", status="major_outage",
                     reason="The probes cannot see the CDN outage")  # fmt: skip
    fresh(app)
    components = client.get("/api/v2/components.json").get_json()["components"]
    assert {c["id"]: c["status"] for c in components}["website"] == "major_outage"
    assert banner(get(client))[1] == "Major Service Outage"
    assert status_of(samples(client), "website") == ["major_outage"]

    ops.clear_override(store, ACTOR, component="website")
    fresh(app)
    components = client.get("/api/v2/components.json").get_json()["components"]
    assert {c["id"]: c["status"] for c in components}["website"] == "operational"
    assert status_of(samples(client), "website") == ["operational"]
