"""The command layer: each command is one unit of work with its audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from status import ops
from status.clock import utcnow

ALICE = ops.Actor("user", "alice@example.org", ip="192.0.2.10")


def test_it_audits_each_command_in_the_transaction_of_its_change(db):
    incident = ops.open_incident(
        db,
        ALICE,
        name="Calls failing",
        status="investigating",
        impact="major",
        body="We are investigating.",
        components={"sip": "major_outage"},
    )
    ops.resolve_incident(db, ALICE, incident, body="Fixed.")
    start = utcnow() + timedelta(days=1)
    window = ops.schedule_maintenance(
        db,
        ALICE,
        name="Upgrade",
        body="Database upgrade.",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=["db"],
    )
    ops.cancel_maintenance(db, ALICE, window, body="Not needed.")

    entries = db.audit.entries()
    assert [(e.action, e.target_type, e.target_id) for e in entries] == [
        ("incident.open", "incident", str(incident)),
        ("incident.update", "incident", str(incident)),
        ("maintenance.schedule", "maintenance", str(window)),
        ("maintenance.cancel", "maintenance", str(window)),
    ]
    assert {(e.actor, e.ip) for e in entries} == {("user:alice@example.org", "192.0.2.10")}
    assert entries[0].details["components"] == {"sip": "major_outage"}
    assert entries[1].details["before"] == {"status": "investigating"}
    assert entries[1].details["status"] == "resolved"


def test_a_unit_of_work_that_fails_leaves_nothing_behind(db):
    version = db.meta.data_version()
    now = utcnow()
    with pytest.raises(RuntimeError), db.begin() as uow:
        incident = uow.incidents.create(
            name="Half done", status="investigating", impact="minor", components={}, at=now
        )
        uow.incidents.add_update(incident, status="investigating", body="x", at=now)
        uow.audit.record(actor="user:alice", action="incident.open", target_type="x", at=now)
        raise RuntimeError("the process dies before the commit")
    assert db.incidents.all() == [] and db.audit.entries() == []
    assert db.meta.data_version() == version


def test_a_unit_of_work_commits_all_its_parts_and_bumps_the_version_once(db):
    version = db.meta.data_version()
    now = utcnow()
    with db.begin() as uow:
        first = uow.incidents.create(
            name="A", status="investigating", impact="minor", components={}, at=now
        )
        uow.incidents.add_update(first, status="investigating", body="x", at=now)
        uow.incidents.set_status(first, "resolved", now)
    assert [i.status for i in db.incidents.all()] == ["resolved"]
    assert db.meta.data_version() == version + 1


@pytest.mark.parametrize(
    ("language", "opened", "resolved"),
    [
        (
            "en",
            ("SIP Gateway: major outage", "Our monitoring detected a problem with SIP Gateway."),
            "SIP Gateway is operational again.",
        ),
        (
            "de",
            (
                "SIP Gateway: schwerer Ausfall",
                "Unsere Überwachung hat ein Problem mit SIP Gateway festgestellt.",
            ),
            "SIP Gateway ist wieder betriebsbereit.",
        ),
    ],
)
def test_the_probes_own_incidents_speak_the_sites_first_language(db, language, opened, resolved):
    def change(status: str) -> None:
        ops.set_component_status(
            db, "sip", status, reason="t", source="probe", auto_incident="SIP Gateway",
            language=language,
        )  # fmt: skip

    change("operational")
    change("major_outage")
    [incident] = db.incidents.all()
    [update] = db.incidents.updates(incident.id)
    assert incident.name == opened[0] and update.body.startswith(opened[1])
    change("operational")
    assert db.incidents.updates(incident.id)[-1].body.startswith(resolved)
    assert [e.action for e in db.audit.entries()] == ["incident.open", "incident.resolve"]
    assert {e.actor for e in db.audit.entries()} == {"probe:monitoring"}
    # Subscribers are told of both, as of an incident posted by hand.
    events = [(e.kind, e.object_id, e.components, e.notify) for e in db.events.after()]
    assert events == [
        ("incident.opened", str(incident.id), ["sip"], True),
        ("incident.resolved", str(incident.id), ["sip"], True),
    ]
