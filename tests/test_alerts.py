"""POST /api/v1/alertmanager: Alertmanager's alerts drive component statuses and one
incident per alert group (payloads shaped as Alertmanager 0.25 sends them)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from status import ops
from status.clock import utcnow
from status.ops.clock import tick
from status.runtime import runtime
from tests import test_api_v1
from tests.conftest import MINIMAL_CONFIG

api, tokens = test_api_v1.api, test_api_v1.tokens  # the API's fixtures, here too

ALERTS_CONFIG = (
    MINIMAL_CONFIG
    + """\
alerts:
  - match: {service: telephony}
    match_re: {region: "eu|de"}
    components: [sip-gateway]
    severity: {critical: major_outage, warning: degraded_performance}
    incident: draft
  - matchers: ['service="web"', 'env!="staging"']
    components: [website]
    incident: publish
  - match: {service: quiet}
    components: [website]
    incident: none
"""
)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "status.yaml"
    path.write_text(ALERTS_CONFIG)
    return path


def alert(name="SipDown", status="firing", ends_in=timedelta(minutes=5), **labels) -> dict:
    now = utcnow()
    labels = {"alertname": name, "service": "telephony", "region": "eu",
              "severity": "critical", **labels}  # fmt: skip
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{name} is happening"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "endsAt": (now + ends_in).isoformat() if status == "firing" else now.isoformat(),
        "generatorURL": "http://prometheus.test/graph",
        "fingerprint": f"{abs(hash(tuple(sorted(labels.items())))):016x}"[:16],
    }


def payload(*alerts, group='{}:{service="telephony"}', **common) -> dict:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": "leitstand",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"service": "telephony"},
        "commonLabels": common.get("labels", {}),
        "commonAnnotations": common.get("annotations", {}),
        "externalURL": "http://alertmanager.test",
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
    }


def shown(client, component_id: str) -> str:
    runtime(client.application).snapshots = None  # see what was just written
    data = client.get("/api/v2/components.json").get_json()
    return next(c["status"] for c in data["components"] if c["id"] == component_id)


def incidents_public(client) -> list[dict]:
    runtime(client.application).snapshots = None  # see what was just written
    return client.get("/api/v2/incidents.json").get_json()["incidents"]


def test_a_firing_alert_sets_the_status_and_drafts_one_incident_per_group(client, api):
    sip = alert()
    answer = api("POST", "/alertmanager", json=payload(sip))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["matched"] == 1 and body["unmatched"] == 0 and body["changed"] == 1
    assert shown(client, "sip-gateway") == "major_outage"
    assert incidents_public(client) == []  # a draft: the public does not see it

    again = api("POST", "/alertmanager", json=payload(sip)).get_json()  # a repeat
    assert again["changed"] == 0 and again["incident_id"] == body["incident_id"]
    store = runtime(client.application).store
    drafts = [row for row in store.incidents.all() if row.draft]
    assert [row.id for row in drafts] == [body["incident_id"]]
    assert store.incidents.components(body["incident_id"])[0].status == "major_outage"

    api("POST", "/alertmanager", json=payload(alert(status="resolved")))
    assert shown(client, "sip-gateway") == "operational"
    assert store.incidents.get(body["incident_id"]).status == "resolved"
    entries = store.audit.entries(limit=50)
    actions = [(e.actor, e.action) for e in entries if e.action.startswith("alert.")]
    assert sorted(actions) == [
        ("alertmanager:editor-bot", "alert.firing"),
        ("alertmanager:editor-bot", "alert.resolved"),
    ]


def test_a_published_incident_carries_the_summary_and_resolves_with_an_update(client, api):
    web = alert("WebDown", service="web", severity="warning")
    body = api(
        "POST", "/alertmanager",
        json=payload(web, group='{}:{service="web"}', annotations={"summary": "Website slow"}),
    ).get_json()  # fmt: skip
    [incident] = incidents_public(client)
    assert body["incident_id"] is not None
    assert incident["name"] == "Website slow" and incident["status"] == "investigating"
    assert shown(client, "website") == "degraded_performance"

    resolved = alert("WebDown", status="resolved", service="web", severity="warning")
    api("POST", "/alertmanager", json=payload(resolved, group='{}:{service="web"}'))
    [incident] = incidents_public(client)
    assert incident["status"] == "resolved"
    assert len(incident["incident_updates"]) == 2


def test_unmatched_alerts_are_ignored_and_counted(client, api):
    staging = alert("WebDown", service="web", env="staging")
    other = alert("Disk", service="storage")
    body = api("POST", "/alertmanager", json=payload(staging, other)).get_json()
    assert body == {"matched": 0, "unmatched": 2, "changed": 0, "incident_id": None}
    assert shown(client, "website") == "operational"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'leitstand_alerts_received_total{result="unmatched"} 2.0' in metrics


def test_maintenance_suppresses_an_alert_and_an_override_wins(client, api):
    store = runtime(client.application).store
    actor = ops.Actor("user", "alice@example.org")
    now = utcnow()
    quiet = alert("Quiet", service="quiet")
    api("POST", "/alertmanager", json=payload(quiet, group="quiet"))
    assert shown(client, "website") == "major_outage"
    window = ops.schedule_maintenance(
        store, actor, name="Work", body="", components=["website"],
        scheduled_for=now - timedelta(minutes=1), scheduled_until=now + timedelta(hours=1),
    )  # fmt: skip
    tick(store, now)
    assert shown(client, "website") == "under_maintenance"
    ops.cancel_maintenance(store, actor, window, body="Called off.")
    ops.set_override(
        store, actor, component="website", status="operational", reason="alert is wrong"
    )
    assert shown(client, "website") == "operational"


def test_an_alert_whose_end_passed_expires_by_itself(client, api):
    sip = alert(ends_in=timedelta(seconds=30))
    incident_id = api("POST", "/alertmanager", json=payload(sip)).get_json()["incident_id"]
    store = runtime(client.application).store
    assert shown(client, "sip-gateway") == "major_outage"

    later = utcnow() + timedelta(minutes=1)
    done = tick(store, later)
    assert done.count(f"alert.expired:{sip['fingerprint']}") == 1
    assert tick(store, later) == []  # once
    assert shown(client, "sip-gateway") == "operational"
    assert store.incidents.get(incident_id).status == "resolved"


def test_a_draft_is_published_by_an_editor(client, api):
    incident_id = api("POST", "/alertmanager", json=payload(alert())).get_json()["incident_id"]
    assert incidents_public(client) == []
    assert api("POST", f"/incidents/{incident_id}/publish", role="viewer").status_code == 403
    assert api("POST", f"/incidents/{incident_id}/publish").status_code == 200
    [incident] = incidents_public(client)
    assert incident["name"] == "SipDown is happening"
    assert api("POST", f"/incidents/{incident_id}/publish").status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("groupKey"), "groupKey"),
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts.0.status"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
        (lambda p: p["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
    ],
)
def test_a_payload_that_does_not_parse_gets_400_naming_the_field(client, api, change, field):
    body = payload(alert())
    change(body)
    answer = api("POST", "/alertmanager", json=body)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == field
    assert shown(client, "sip-gateway") == "operational"


def test_it_needs_a_token_with_the_editor_role(client, api):
    assert api("POST", "/alertmanager", role=None, json=payload(alert())).status_code == 401
    assert api("POST", "/alertmanager", role="viewer", json=payload(alert())).status_code == 403


def test_alertmanagers_zero_end_time_means_no_end(client, api):
    sip = alert()
    sip["endsAt"] = "0001-01-01T00:00:00Z"
    api("POST", "/alertmanager", json=payload(sip))
    store = runtime(client.application).store
    done = tick(store, datetime.now(UTC) + timedelta(days=3))
    assert not [what for what in done if what.startswith("alert.")]
    assert shown(client, "sip-gateway") == "major_outage"


def test_two_deliveries_of_a_group_at_once_open_one_incident(app):
    """Two Alertmanagers (an HA pair) deliver the same group at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    from status.ops.alerts import Alert, Notification

    store = runtime(app).store
    rules = runtime(app).config.alerts
    now = utcnow()
    notifications = [
        Notification(
            group_key="ha",
            alerts=[
                Alert(
                    f"fp{n}",
                    "firing",
                    {"service": "web", "alertname": f"A{n}"},
                    {},
                    now,
                    now + timedelta(minutes=5),
                )
            ],
        )
        for n in range(2)
    ]
    barrier = threading.Barrier(2)

    def deliver(notification):
        barrier.wait()
        return ops.receive_alerts(store, ops.Actor("alertmanager", "am"), notification, rules)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(deliver, notifications))
    assert {r.incident_id for r in results} == {results[0].incident_id}
    assert len(store.incidents.all()) == 1


def test_many_alerts_in_one_delivery_are_audited_each_and_the_chain_verifies(client, api):
    many = [alert(f"A{n}", instance=f"host-{n}") for n in range(3)]
    assert api("POST", "/alertmanager", json=payload(*many)).get_json()["changed"] == 3
    store = runtime(client.application).store
    entries = [e for e in store.audit.entries() if e.action == "alert.firing"]
    assert sorted(e.target_id for e in entries) == sorted(a["fingerprint"] for a in many)
    ops.open_incident(
        store, ops.Actor("user", "a@example.org"), name="After", status="investigating",
        impact="minor", body="",
    )  # fmt: skip
    assert store.audit.verify() is None
