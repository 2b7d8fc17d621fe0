"""`flask --app app incident|maintenance|override ...` (contract forms), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from status import ops
from status.clock import utcnow
from status.runtime import runtime


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def last_line(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


def unresolved(app, client) -> list[dict]:
    runtime(app).snapshots = None  # read what the command just wrote
    return client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"]


def test_an_incident_opened_updated_and_resolved_from_the_shell(app, client, runner):
    incident_id = last_line(
        invoke(
            runner, "incident", "open", "--name", "Calls failing in EU",
            "--status", "investigating", "--impact", "major",
            "--component", "sip-gateway=major_outage", "--body", "We are investigating.",
        )
    )  # fmt: skip
    assert incident_id.isdigit()
    [shown] = unresolved(app, client)
    assert shown["id"] == incident_id and shown["impact"] == "major"
    assert shown["incident_updates"][0]["body"] == "We are investigating."
    assert [c["id"] for c in shown["components"]] == ["sip-gateway"]

    update = invoke(runner, "incident", "update", incident_id, "--status", "identified",
                    "--body", "A carrier is down.")  # fmt: skip
    assert update.exit_code == 0, update.output
    assert unresolved(app, client)[0]["status"] == "identified"
    listed = invoke(runner, "incident", "list").output
    assert listed.startswith(f"{incident_id}\tidentified\tmajor\t")
    assert "sip-gateway=major_outage" in listed

    assert invoke(runner, "incident", "resolve", incident_id, "--body", "Fixed.").exit_code == 0
    assert unresolved(app, client) == []
    assert invoke(runner, "incident", "list").output == ""
    assert f"{incident_id}\tresolved" in invoke(runner, "incident", "list", "--all").output

    store = runtime(app).store
    assert [e.kind for e in store.events.after()] == [
        "incident.opened", "incident.updated", "incident.resolved",
    ]  # fmt: skip
    assert [e.action for e in store.audit.entries()] == ["incident.open"] + 2 * ["incident.update"]


def test_it_refuses_bad_input_naming_the_field_and_stores_nothing(app, runner):
    cases = [
        (["--impact", "major", "--component", "nope=major_outage"], "unknown component 'nope'"),
        (["--impact", "major", "--component", "sip-gateway=unknown"], "status must be one of"),
        (["--impact", "major", "--component", "sip-gateway"], "use ID=STATUS"),
        (["--impact", "huge"], "'huge' is not one of"),
    ]
    for extra, message in cases:
        result = invoke(runner, "incident", "open", "--name", "X", *extra)
        assert result.exit_code != 0 and message in result.output, result.output
    assert invoke(runner, "incident", "update", "999", "--status", "identified").exit_code == 1
    store = runtime(app).store
    assert store.incidents.all() == [] and store.events.after() == []


def test_maintenance_is_scheduled_in_the_site_timezone_unless_an_offset_is_given(app, runner):
    start = (utcnow() + timedelta(days=2)).date()
    window = last_line(
        invoke(
            runner, "maintenance", "schedule", "--title", "Database upgrade",
            "--start", f"{start}T02:00", "--end", f"{start}T04:00",
            "--component", "sip-gateway", "--component", "website",
        )
    )  # fmt: skip
    [(row, _, components)] = runtime(app).store.maintenance.public()
    assert str(row.id) == window
    local = row.scheduled_for.astimezone(runtime(app).config.site.tz)
    assert (local.hour, local.minute) == (2, 0)  # 02:00 Europe/Berlin, stored in UTC
    assert row.scheduled_for.hour in (0, 1)
    assert sorted(c.component_id for c in components) == ["sip-gateway", "website"]

    explicit = last_line(
        invoke(runner, "maintenance", "schedule", "--title", "Network",
               "--start", f"{start}T02:00+00:00", "--end", f"{start}T03:00+00:00")
    )  # fmt: skip
    row = next(r for r, _, _ in runtime(app).store.maintenance.public() if str(r.id) == explicit)
    assert row.scheduled_for == datetime(start.year, start.month, start.day, 2, tzinfo=UTC)

    backwards = invoke(runner, "maintenance", "schedule", "--title", "X",
                       "--start", f"{start}T04:00", "--end", f"{start}T02:00")  # fmt: skip
    assert backwards.exit_code == 1 and "end: must be after the start" in backwards.output

    assert invoke(runner, "maintenance", "cancel", window, "--body", "Not needed").exit_code == 0
    assert f"{window}\tcancelled\t" in invoke(runner, "maintenance", "list").output
    again = invoke(runner, "maintenance", "update", window, "--status", "in_progress")
    assert again.exit_code == 1 and "cancelled" in again.output
    kinds = [e.kind for e in runtime(app).store.events.after()]
    assert kinds == ["maintenance.scheduled", "maintenance.scheduled", "maintenance.cancelled"]


def test_an_override_is_set_listed_and_cleared_with_its_reason(app, runner):
    reason = "Probes are blind behind the new firewall"
    result = invoke(
        runner, "override", "set", "website", "major_outage", "--reason", reason, "--for", "2h"
    )
    assert result.exit_code == 0, result.output
    listed = invoke(runner, "override", "list").output
    assert listed.startswith("website\tmajor_outage\t") and "new firewall" in listed
    [row] = runtime(app).store.overrides.active(utcnow()).values()
    assert timedelta(hours=1, minutes=59) < row.expires_at - utcnow() <= timedelta(hours=2)
    assert runtime(app).store.overrides.active(utcnow() + timedelta(hours=3)) == {}

    assert invoke(runner, "override", "set", "nope", "major_outage", "--reason", "x").exit_code == 1
    assert invoke(runner, "override", "clear", "website").exit_code == 0
    assert invoke(runner, "override", "list").output == ""
    assert invoke(runner, "override", "clear", "website").exit_code == 1
    actions = [e.action for e in runtime(app).store.audit.entries()]
    assert actions == ["override.set", "override.clear"]


def test_a_window_is_extended_or_moved_and_its_calendar_sequence_grows(app, runner):
    start = (utcnow() + timedelta(days=2)).date()
    window = last_line(
        invoke(runner, "maintenance", "schedule", "--title", "Upgrade",
               "--start", f"{start}T02:00", "--end", f"{start}T04:00")
    )  # fmt: skip
    store = runtime(app).store
    before = store.maintenance.get(int(window))
    extended = invoke(runner, "maintenance", "update", window, "--end", f"{start}T05:30",
                      "--body", "Takes longer.")  # fmt: skip
    assert extended.exit_code == 0, extended.output
    after = store.maintenance.get(int(window))
    local = after.scheduled_until.astimezone(runtime(app).config.site.tz)
    assert (local.hour, local.minute) == (5, 30) and after.scheduled_for == before.scheduled_for
    assert after.sequence == before.sequence + 1
    assert [u.body for u in store.maintenance.updates(int(window))][-1] == "Takes longer."
    shorter = invoke(runner, "maintenance", "update", window, "--end", f"{start}T01:00")
    assert shorter.exit_code == 1 and "end: must be after the start" in shorter.output
    assert invoke(runner, "maintenance", "update", window).exit_code == 2
    assert [e.kind for e in store.events.after()][-1] == "maintenance.rescheduled"


def test_a_draft_is_listed_as_one_and_published_from_the_shell(app, client, runner):
    draft = ops.open_incident(
        runtime(app).store, ops.Actor("alertmanager", "am"), name="SIP alerts",
        status="investigating", impact="major", body="", draft=True,
    )  # fmt: skip
    assert f"{draft}\tinvestigating\tmajor\t" in invoke(runner, "incident", "list").output
    assert "[draft] SIP alerts" in invoke(runner, "incident", "list").output
    assert unresolved(app, client) == []
    published = invoke(runner, "incident", "publish", str(draft), "--no-notify")
    assert published.exit_code == 0 and last_line(published) == f"incident {draft}: published"
    assert [i["name"] for i in unresolved(app, client)] == ["SIP alerts"]
    again = invoke(runner, "incident", "publish", str(draft))
    assert again.exit_code != 0 and "published already" in again.output
