"""The Statuspage v2 API: Atlassian's documents, field for field, served from the snapshot.

The reference documents in fixtures/statuspage/ are Atlassian-shaped examples (one per
endpoint). Every object we serve must carry exactly the keys of the object in the same
place there, with values of the types Atlassian uses there.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from status import ops
from status.clock import utcnow
from status.runtime import runtime
from status.snapshot import SnapshotCache
from status.web.public import api_v2, fastpath

ACTOR = ops.Actor("user", "alice@example.org")

FIXTURES = Path(__file__).parent / "fixtures" / "statuspage"
ENDPOINTS = {
    "/api/v2/summary.json": "summary.json",
    "/api/v2/status.json": "status.json",
    "/api/v2/components.json": "components.json",
    "/api/v2/incidents.json": "incidents.json",
    "/api/v2/incidents/unresolved.json": "incidents-unresolved.json",
    "/api/v2/scheduled-maintenances.json": "scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json": "scheduled-maintenances-upcoming.json",
    "/api/v2/scheduled-maintenances/active.json": "scheduled-maintenances-active.json",
}
BERLIN = ZoneInfo("Europe/Berlin")

COMPONENT = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
IMPACT = {"none", "minor", "major", "critical"}
MAINTENANCE = {"scheduled", "in_progress", "verifying", "completed"}
INDICATORS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}([+-]\d\d:\d\d|Z)$")


# -- shapes --------------------------------------------------------------------------------
def objects(doc, path="$"):
    """(where, object) for every JSON object in ``doc``; groups apart from components."""
    if isinstance(doc, dict):
        if doc.get("group") is True:
            path += "(group)"
        yield path, doc
        for key, value in doc.items():
            yield from objects(value, f"{path}.{key}")
    elif isinstance(doc, list):
        for item in doc:
            yield from objects(item, f"{path}[]")


def json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def reference(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def reference_shapes() -> tuple[dict[str, set[frozenset]], dict[tuple[str, str], set[str]]]:
    """Over all reference documents: the key sets per place, the types per place and key.

    The top level differs per document; everything below it has one shape wherever it sits.
    """
    keys: dict[str, set[frozenset]] = {}
    types: dict[tuple[str, str], set[str]] = {}
    for name in ENDPOINTS.values():
        for path, obj in objects(reference(name)):
            if path == "$":
                continue
            keys.setdefault(path, set()).add(frozenset(obj))
            for key, value in obj.items():
                types.setdefault((path, key), set()).add(json_type(value))
    return keys, types


REFERENCE_KEYS, REFERENCE_TYPES = reference_shapes()


def vocabulary_problems(doc) -> list[str]:
    """Every enum value outside Atlassian's vocabularies, as readable lines."""
    problems = []

    def check(path, value, allowed):
        if value not in allowed:
            problems.append(f"{path}: {value!r}")

    for path, obj in objects(doc):
        if path.endswith("affected_components[]"):
            check(path, obj["old_status"], COMPONENT)
            check(path, obj["new_status"], COMPONENT)
        elif path.endswith(("components[]", "components[](group)")):
            check(path, obj["status"], COMPONENT)
        elif path == "$.incidents[]":
            check(path, obj["status"], INCIDENT)
            check(path, obj["impact"], IMPACT)
        elif path == "$.incidents[].incident_updates[]":
            check(path, obj["status"], INCIDENT)
        elif path == "$.scheduled_maintenances[]":
            check(path, obj["status"], MAINTENANCE)
            check(path, obj["impact"], {"maintenance"})
        elif path == "$.scheduled_maintenances[].incident_updates[]":
            check(path, obj["status"], MAINTENANCE)
        elif path == "$.status":
            check(path, (obj["indicator"], obj["description"]), set(INDICATORS.items()))
    return problems


# -- helpers -------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frozen(app) -> Clock:
    """Snapshots that change only when the returned clock moves on (by a second)."""
    rt = runtime(app)
    clock = Clock()
    rt.snapshots = SnapshotCache(rt.store, lambda: rt.config, clock=clock)
    return clock


def get(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    return response.get_json()


def fresh(app) -> None:
    """Forget the snapshot, so the next request sees what was just written."""
    runtime(app).snapshots = None


@pytest.fixture
def store(app):
    return runtime(app).store


@pytest.fixture
def populated(app, store):
    """A page with a bit of everything: open and resolved incidents, all kinds of windows."""
    now = utcnow()
    ops.set_component_status(
        store,
        "sip-gateway",
        "partial_outage",
        reason="drops",
        source="probe",
        at=now - timedelta(hours=2),
    )
    old = ops.open_incident(
        store,
        ACTOR,
        name="Website slow",
        status="investigating",
        impact="minor",
        body="Pages load slowly.",
        components={"website": "degraded_performance"},
        at=now - timedelta(days=3),
    )
    ops.update_incident(
        store,
        ACTOR,
        old,
        status="monitoring",
        body="A fix is out.",
        at=now - timedelta(days=3) + timedelta(minutes=30),
    )
    ops.update_incident(
        store,
        ACTOR,
        old,
        status="resolved",
        body="Resolved.",
        components={"website": "operational"},
        at=now - timedelta(days=3) + timedelta(hours=1),
    )
    calls = ops.open_incident(
        store,
        ACTOR,
        name="Calls drop",
        status="investigating",
        impact="major",
        body="Some calls drop.",
        components={"sip-gateway": "partial_outage"},
        at=now - timedelta(hours=1),
    )
    ops.update_incident(store, ACTOR, calls, status="identified", body="A carrier.", at=now)
    active = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Carrier upgrade",
        body="Upgrading.",
        scheduled_for=now - timedelta(minutes=10),
        scheduled_until=now + timedelta(hours=1),
        components=["sip-gateway"],
    )
    upcoming = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Database upgrade",
        body="Read-only for a while.",
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=["website"],
    )
    done = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Load balancers",
        body="Replacing.",
        scheduled_for=now - timedelta(days=10),
        scheduled_until=now - timedelta(days=10) + timedelta(hours=1),
        components=["website"],
        at=now - timedelta(days=12),
    )
    return SimpleNamespace(
        now=now, old=old, calls=calls, active=active, upcoming=upcoming, done=done
    )


# -- the shapes: Atlassian's keys, types and words ----------------------------------------
def test_it_has_one_consistent_reference_shape_per_place():
    assert {p: len(k) for p, k in REFERENCE_KEYS.items() if len(k) != 1} == {}
    for name in ENDPOINTS.values():
        assert vocabulary_problems(reference(name)) == [], name


@pytest.mark.parametrize("url", list(ENDPOINTS))
def test_it_serves_atlassian_keys_and_types(client, populated, url):
    ours = get(client, url)
    ref = reference(ENDPOINTS[url])

    assert set(ours) == set(ref)
    assert {p for p, _ in objects(ours)} == {p for p, _ in objects(ref)}
    for path, obj in objects(ours):
        if path == "$":
            continue
        [expected] = REFERENCE_KEYS[path]
        assert set(obj) == set(expected), path
        for key, value in obj.items():
            assert json_type(value) in REFERENCE_TYPES[path, key], (path, key, value)
    assert vocabulary_problems(ours) == []


def test_it_writes_every_time_with_the_site_offset(client, populated):
    for url in ENDPOINTS:
        for path, obj in objects(get(client, url)):
            for key, value in obj.items():
                if value is None:
                    continue
                if key.endswith("_at") or key in ("scheduled_for", "scheduled_until"):
                    assert TIMESTAMP.match(value), (path, key, value)
                    at = datetime.fromisoformat(value)
                    assert at.utcoffset() == at.astimezone(BERLIN).utcoffset(), (path, key)
                elif key == "start_date":
                    assert re.fullmatch(r"\d{4}-\d\d-\d\d", value), (path, value)


# -- what the documents say ----------------------------------------------------------------
def test_it_names_the_page_and_its_overall_status(client, store):
    ops.set_component_status(store, "website", "major_outage", reason="down", source="console")

    doc = get(client, "/api/v2/status.json")

    assert doc["page"] == {
        "id": api_v2.page_id("https://status.test.example"),
        "name": "Test Cloud Status",
        "url": "https://status.test.example",
        "time_zone": "Europe/Berlin",
        "updated_at": doc["page"]["updated_at"],
    }
    assert len(doc["page"]["id"]) == 12
    assert doc["status"] == {"indicator": "critical", "description": "Major Service Outage"}


def test_it_lists_groups_as_components_holding_their_children(client, store):
    ops.set_component_status(store, "sip-gateway", "partial_outage", reason="x", source="console")

    components = get(client, "/api/v2/components.json")["components"]

    by_id = {c["id"]: c for c in components}
    assert [c["id"] for c in components] == ["telephony", "sip-gateway", "website"]
    group, gateway, website = by_id["telephony"], by_id["sip-gateway"], by_id["website"]
    assert (group["group"], group["components"], group["status"]) == (
        True,
        ["sip-gateway"],
        "partial_outage",
    )
    assert (gateway["group"], gateway["group_id"], gateway["position"]) == (False, "telephony", 1)
    assert (website["group_id"], website["position"], group["position"]) == (None, 2, 1)
    assert gateway["description"] == "Inbound and outbound calls"
    assert website["description"] is None
    assert "components" not in gateway
    assert gateway["start_date"] is not None and website["start_date"] is None


def test_a_group_is_as_bad_as_its_worst_child(app, client, store, config_file):
    config_file.write_text(
        config_file.read_text()
        + "  - {id: sip-trunks, name: SIP Trunks, group: telephony}\n"
        + "  - {id: fax, name: Fax, group: telephony}\n"
    )
    assert runtime(app).config_holder.reload()
    ops.set_component_status(
        store, "sip-trunks", "degraded_performance", reason="x", source="console"
    )
    ops.set_component_status(store, "fax", "major_outage", reason="x", source="console")

    components = get(client, "/api/v2/components.json")["components"]

    group = next(c for c in components if c["group"])
    assert group["components"] == ["sip-gateway", "sip-trunks", "fax"]
    assert group["status"] == "major_outage"
    assert [c["position"] for c in components if c["group_id"] == "telephony"] == [1, 2, 3]


def test_it_never_says_unknown_but_the_last_status_known(client, store):
    ops.set_component_status(
        store, "website", "degraded_performance", reason="slow", source="probe"
    )
    ops.set_component_status(store, "website", "unknown", reason="no data", source="probe")

    components = get(client, "/api/v2/components.json")["components"]

    assert {c["id"]: c["status"] for c in components}["website"] == "degraded_performance"


def test_its_overall_status_agrees_with_the_components_it_reports(client, store):
    ops.set_component_status(store, "website", "major_outage", reason="down", source="probe")
    ops.set_component_status(store, "website", "unknown", reason="no data", source="probe")

    summary = get(client, "/api/v2/summary.json")

    assert {c["id"]: c["status"] for c in summary["components"]}["website"] == "major_outage"
    critical = {"indicator": "critical", "description": "Major Service Outage"}
    assert summary["status"] == critical
    assert get(client, "/api/v2/status.json")["status"] == critical


def test_it_describes_an_incident_with_its_timeline(client, populated):
    incidents = get(client, "/api/v2/incidents.json")["incidents"]

    assert [i["id"] for i in incidents] == [str(populated.calls), str(populated.old)]
    calls, old = incidents
    assert calls["shortlink"] == f"https://status.test.example/incidents/{populated.calls}"
    assert (calls["status"], calls["impact"], calls["resolved_at"]) == ("identified", "major", None)
    assert [c["id"] for c in calls["components"]] == ["sip-gateway"]
    identified, investigating = calls["incident_updates"]  # newest first
    assert (identified["status"], identified["body"]) == ("identified", "A carrier.")
    assert identified["incident_id"] == str(populated.calls)
    assert identified["affected_components"] is None  # changed no component
    assert investigating["affected_components"] == [
        {
            "code": "sip-gateway",
            "name": "SIP Gateway",
            "old_status": "partial_outage",
            "new_status": "partial_outage",
        }
    ]
    assert old["monitoring_at"] is not None and old["resolved_at"] is not None
    assert [u["status"] for u in old["incident_updates"]] == [
        "resolved",
        "monitoring",
        "investigating",
    ]


def test_it_lists_the_50_latest_incidents_and_every_unresolved_one(client, store):
    now = utcnow()
    for n in range(55):
        ops.open_incident(
            store,
            ACTOR,
            name=f"Incident {n}",
            status="investigating" if n >= 52 else "resolved",
            impact="minor",
            body="...",
            at=now - timedelta(hours=55 - n),
        )

    latest = get(client, "/api/v2/incidents.json")["incidents"]
    unresolved = get(client, "/api/v2/incidents/unresolved.json")["incidents"]
    summary = get(client, "/api/v2/summary.json")["incidents"]

    assert len(latest) == 50
    assert latest[0]["name"] == "Incident 54" and latest[-1]["name"] == "Incident 5"
    assert [i["name"] for i in unresolved] == ["Incident 54", "Incident 53", "Incident 52"]
    assert summary == unresolved


def test_it_lists_the_50_latest_windows_and_filters_upcoming_and_active(client, store):
    now = utcnow()
    for n in range(52):
        start = now - timedelta(days=60 - n)
        ops.schedule_maintenance(
            store,
            ACTOR,
            name=f"Past {n}",
            body="...",
            scheduled_for=start,
            scheduled_until=start + timedelta(1),
        )
    active = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Active",
        body="...",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
    )
    upcoming = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Upcoming",
        body="...",
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=1),
    )
    cancelled = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Called off",
        body="...",
        scheduled_for=now + timedelta(days=3),
        scheduled_until=now + timedelta(days=3, hours=1),
    )
    ops.update_maintenance(
        store, ACTOR, cancelled, status="completed", body="Cancelled.", cancelled=True
    )

    latest = get(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
    upcoming_doc = get(client, "/api/v2/scheduled-maintenances/upcoming.json")
    active_doc = get(client, "/api/v2/scheduled-maintenances/active.json")
    summary = get(client, "/api/v2/summary.json")

    assert len(latest) == 50
    assert [m["name"] for m in latest[:3]] == ["Called off", "Upcoming", "Active"]
    assert {m["name"]: m["status"] for m in latest[:4]} == {
        "Called off": "completed",
        "Upcoming": "scheduled",
        "Active": "in_progress",  # started on time, by the clock
        "Past 51": "completed",
    }
    assert [m["id"] for m in upcoming_doc["scheduled_maintenances"]] == [str(upcoming)]
    assert [m["id"] for m in active_doc["scheduled_maintenances"]] == [str(active)]
    assert [m["id"] for m in summary["scheduled_maintenances"]] == [str(active), str(upcoming)]
    assert summary["status"]["indicator"] == "maintenance"


def test_it_describes_a_maintenance_window(client, populated):
    [window] = get(client, "/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"]

    assert window["impact"] == "maintenance"
    assert window["shortlink"] == f"https://status.test.example/maintenance/{populated.active}"
    assert [c["id"] for c in window["components"]] == ["sip-gateway"]
    assert window["incident_updates"][0]["incident_id"] == str(populated.active)
    starts = populated.now - timedelta(minutes=10)
    assert datetime.fromisoformat(window["scheduled_for"]) == starts.replace(
        microsecond=starts.microsecond // 1000 * 1000
    )
    assert window["started_at"] == window["scheduled_for"]
    [done] = [
        m
        for m in get(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
        if m["id"] == str(populated.done)
    ]
    assert (done["status"], done["resolved_at"]) == ("completed", done["scheduled_until"])


def test_a_window_starts_in_the_documents_within_a_minute(app, client, store, monkeypatch):
    frozen(app)  # the same snapshot throughout: only the clock moves
    now = utcnow()
    window = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Soon",
        body="...",
        scheduled_for=now + timedelta(minutes=10),
        scheduled_until=now + timedelta(minutes=70),
    )
    upcoming = get(client, "/api/v2/scheduled-maintenances/upcoming.json")
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [str(window)]

    monkeypatch.setattr(api_v2, "utcnow", lambda: now + timedelta(minutes=11))
    monkeypatch.setattr(fastpath, "minute", lambda: -1)  # the clock moved on for it too

    active = get(client, "/api/v2/scheduled-maintenances/active.json")
    assert [m["status"] for m in active["scheduled_maintenances"]] == ["in_progress"]
    upcoming = get(client, "/api/v2/scheduled-maintenances/upcoming.json")
    assert upcoming["scheduled_maintenances"] == []
    assert get(client, "/api/v2/status.json")["status"]["indicator"] == "maintenance"


# -- serving -------------------------------------------------------------------------------
def test_it_allows_any_origin_and_answers_304_to_a_known_etag(client, populated):
    for url in ENDPOINTS:
        first = client.get(url)
        assert first.headers["Access-Control-Allow-Origin"] == "*"
        assert first.headers["Cache-Control"] == "public, max-age=10, stale-while-revalidate=30"
        etag = first.headers["ETag"]
        assert etag and not etag.startswith("W/")

        again = client.get(url, headers={"If-None-Match": etag})

        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Access-Control-Allow-Origin"] == "*"


def test_a_new_incident_shows_up_with_the_next_snapshot(app, client, store):
    clock = frozen(app)
    before = client.get("/api/v2/incidents.json")
    etag = before.headers["ETag"]
    assert before.get_json()["incidents"] == []

    ops.open_incident(
        store, ACTOR, name="Outage", status="investigating", impact="major", body="..."
    )
    within_the_second = client.get("/api/v2/incidents.json", headers={"If-None-Match": etag})
    clock.now += 1.1
    after = client.get("/api/v2/incidents.json", headers={"If-None-Match": etag})

    assert within_the_second.status_code == 304
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert [i["name"] for i in after.get_json()["incidents"]] == ["Outage"]
    fresh(app)
    assert get(client, "/api/v2/status.json")["status"]["indicator"] == "major"


def test_it_answers_from_the_snapshot_without_asking_the_database(app, client, populated):
    frozen(app)
    client.get("/api/v2/summary.json")  # builds the snapshot
    queries = []
    engine = runtime(app).store.engine

    def count(*_args):
        queries.append(1)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for url in ENDPOINTS:
            assert client.get(url).status_code == 200
            assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert queries == []
