"""/api/v1: recurring maintenance (POST /maintenances with an rrule, /maintenance-series),
answers valid against the OpenAPI document — on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from status.clock import utcnow
from status.runtime import runtime
from tests import test_api_v1 as base

ROLES = base.ROLES
tokens, api, conforms = base.tokens, base.api, base.conforms  # the fixtures, shared

BIWEEKLY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"


def next_tuesday() -> str:
    day = (utcnow() + timedelta(days=2)).date()
    return (day + timedelta(days=(1 - day.weekday()) % 7)).isoformat()


def body(**extra) -> dict:
    day = next_tuesday()
    return {"title": "Database patching", "start": f"{day}T02:00", "end": f"{day}T04:00",
            "components": ["website"], "body": "Patch night.", "rrule": BIWEEKLY,
            **extra}  # fmt: skip


def local(app, moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(runtime(app).config.site.tz)


def test_a_series_is_scheduled_shown_changed_and_cancelled(app, api, conforms):
    created = api("POST", "/maintenances", json=body())
    assert created.status_code == 201, created.get_json()
    conforms(created, "POST", "/maintenances")
    first = created.get_json()
    assert first["series_id"] and first["occurrence_start"] == first["scheduled_for"]
    assert local(app, first["scheduled_for"]).strftime("%a %H:%M") == "Tue 02:00"
    path = f"/maintenance-series/{first['series_id']}"

    shown = api("GET", path, role="viewer")
    conforms(shown, "GET", "/maintenance-series/{series_id}")
    series = shown.get_json()
    assert series["rrule"] == BIWEEKLY and series["timezone"] == "Europe/Berlin"
    assert series["occurrences"][0]["id"] == first["id"]
    assert 6 <= len(series["occurrences"]) <= 7
    listed = api("GET", "/maintenance-series", role="viewer")
    conforms(listed, "GET", "/maintenance-series")
    assert [s["id"] for s in listed.get_json()["data"]] == [series["id"]]

    alone = series["occurrences"][1]["id"]
    moved = api("PATCH", f"/maintenances/{alone}", json={"end": f"{next_tuesday()}T09:00"})
    assert moved.status_code == 422  # the end must follow its start (two weeks later)
    end = local(app, series["occurrences"][1]["scheduled_until"]) + timedelta(hours=1)
    moved = api("PATCH", f"/maintenances/{alone}", json={"end": end.isoformat()})
    assert moved.status_code == 200 and moved.get_json()["detached"] is True

    changed = api("PATCH", path, json={"start": f"{next_tuesday()}T03:00", "title": "Kernel"})
    assert changed.status_code == 200, changed.get_json()
    conforms(changed, "PATCH", "/maintenance-series/{series_id}")
    windows = changed.get_json()["occurrences"]
    assert [w["id"] for w in windows] == [w["id"] for w in series["occurrences"]]
    others = [w for w in windows if w["id"] != alone]
    assert {local(app, w["scheduled_for"]).hour for w in others} == {3}
    assert {w["title"] for w in others} == {"Kernel"}
    [kept] = [w for w in windows if w["id"] == alone]
    assert kept["title"] == "Database patching" and local(app, kept["scheduled_for"]).hour == 2

    cancelled = api("POST", f"{path}/cancel", json={"body": "Moved to the vendor."})
    assert cancelled.status_code == 200
    conforms(cancelled, "POST", "/maintenance-series/{series_id}/cancel")
    assert cancelled.get_json()["cancelled"] is True
    assert all(w["cancelled"] for w in cancelled.get_json()["occurrences"])
    assert api("POST", f"{path}/cancel", json={}).status_code == 422
    audit = api("GET", "/audit", role="admin", query_string={"object_type": "maintenance_series"})
    assert [e["action"] for e in audit.get_json()["data"]] == [
        "maintenance_series.schedule", "maintenance_series.update", "maintenance_series.cancel",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("rrule", "field"),
    [("FREQ=SECONDLY", "rrule"), ("FREQ=WEEKLY;BYHOUR=1,2,3", "rrule"), ("nonsense", "rrule"),
     ("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2", "rrule"), ("", "rrule")],
)  # fmt: skip
def test_a_bad_rule_is_refused_naming_the_field(app, api, rrule, field):
    refused = api("POST", "/maintenances", json=body(rrule=rrule))
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == field
    assert runtime(app).store.maintenance.all() == []


def test_unknown_series_and_roles(api):
    assert api("GET", "/maintenance-series/999", role="viewer").status_code == 404
    assert api("PATCH", "/maintenance-series/999", json={"title": "X"}).status_code == 404
    assert api("POST", "/maintenance-series/999/cancel", json={}).status_code == 404
    for method, path, needed in [
        ("GET", "/maintenance-series", "viewer"),
        ("PATCH", "/maintenance-series/1", "editor"),
        ("POST", "/maintenance-series/1/cancel", "editor"),
    ]:
        for role in ROLES:
            response = api(method, path, role=role, json={})
            allowed = ROLES.index(role) >= ROLES.index(needed)
            assert (response.status_code == 403) is not allowed, (method, path, role)
