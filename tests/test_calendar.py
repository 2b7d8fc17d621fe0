"""The maintenance calendar: /maintenance.ics."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar

from status import ops
from status.clock import utcnow
from status.runtime import runtime

ACTOR = ops.Actor("user", "alice@example.org")


def fresh(app):
    """Forget the snapshot, so the next request sees what was just written."""
    runtime(app).snapshots = None


def events(client, url="/maintenance.ics") -> dict[str, dict]:
    """The calendar's events by SUMMARY."""
    response = client.get(url)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.data)
    return {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}


def window(app, name="Database upgrade", days=3, components=("website",), **kwargs) -> int:
    start = utcnow().replace(microsecond=0) + timedelta(days=days)
    return ops.schedule_maintenance(
        runtime(app).store,
        ACTOR,
        name=name,
        body=f"{name}: short interruptions possible.",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=components,
        **kwargs,
    )


def test_it_serves_upcoming_maintenance_as_a_calendar(app, client):
    maintenance = window(app, components=("sip-gateway", "website"))
    fresh(app)

    response = client.get("/maintenance.ics")
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["VERSION"]) == "2.0"
    assert "Leitstand" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == "Test Cloud Status - Maintenance"
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert "X-PUBLISHED-TTL" in calendar

    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"maintenance-{maintenance}@status.test.example"
    assert str(event["SUMMARY"]) == "Database upgrade"
    assert str(event["URL"]) == f"https://status.test.example/maintenance/{maintenance}"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(hours=2)
    assert event["DTSTART"].dt.utcoffset() == timedelta(0)
    assert b"DTSTART:" in response.data and b"Z\r\n" in response.data
    assert "DTSTAMP" in event
    description = str(event["DESCRIPTION"])
    assert "Database upgrade: short interruptions possible." in description
    assert "SIP Gateway, Website" in description


def test_it_keeps_the_uid_and_bumps_the_sequence_after_an_update(app, client):
    maintenance = window(app)
    fresh(app)
    before = events(client)["Database upgrade"]

    ops.update_maintenance(
        runtime(app).store,
        ACTOR,
        maintenance,
        status="scheduled",
        body="Moved to the backup cluster first.",
    )
    fresh(app)
    after = events(client)["Database upgrade"]

    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] == before["SEQUENCE"] + 1
    assert "Moved to the backup cluster first." in str(after["DESCRIPTION"])


def test_it_marks_a_cancelled_window_cancelled(app, client):
    kept = window(app, name="Kept")
    cancelled = window(app, name="Called off", days=5)
    ops.update_maintenance(
        runtime(app).store,
        ACTOR,
        cancelled,
        status="completed",
        body="Not needed after all.",
        cancelled=True,
    )
    fresh(app)

    found = events(client)
    assert str(found["Called off"]["STATUS"]) == "CANCELLED"
    assert str(found["Kept"]["STATUS"]) == "CONFIRMED"
    assert str(found["Kept"]["UID"]).startswith(f"maintenance-{kept}@")


def test_it_keeps_recent_windows_and_drops_old_ones(app, client):
    window(app, name="Last month", days=-30, status="completed", auto_transition=False)
    window(app, name="Last year", days=-365, status="completed", auto_transition=False)
    window(app, name="Next week", days=7)
    fresh(app)

    assert sorted(events(client)) == ["Last month", "Next week"]


def test_it_narrows_the_calendar_to_one_component(app, client):
    window(app, name="Website only", components=("website",))
    window(app, name="Telephony only", components=("sip-gateway",))
    window(app, name="Everything", components=("sip-gateway", "website"))
    fresh(app)

    assert sorted(events(client, "/maintenance.ics?component=sip-gateway")) == [
        "Everything",
        "Telephony only",
    ]
    assert len(events(client)) == 3
    assert client.get("/maintenance.ics?component=nope").status_code == 404


def test_it_answers_304_for_an_unchanged_calendar(app, client):
    window(app)
    fresh(app)
    first = client.get("/maintenance.ics")
    fresh(app)  # a rebuilt snapshot with the same data renders the same bytes
    again = client.get("/maintenance.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_it_serves_an_empty_calendar(client):
    assert events(client) == {}
    calendar = Calendar.from_ical(client.get("/maintenance.ics").data)
    assert str(calendar["X-WR-CALNAME"]) == "Test Cloud Status - Maintenance"
