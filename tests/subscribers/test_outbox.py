"""Fan-out and claims, on both engines: who gets a row, and only one."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from status import schema as t
from status.clock import utcnow
from status.ops.maintenance import schedule_maintenance
from subscribers.outbox import Claim, fan_out, recipient_hash
from tests.conftest import SECRET
from tests.subscribers.support import ALICE, add_subscribers, incident


def recipients(store, event_id=None):
    return sorted(r.subscriber_id for r in store.outbox.rows(event_id))


def last_event(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(t.events.c.id))).scalar()


def test_it_fans_out_to_those_who_follow_a_component_of_the_event(db):
    (everything,) = add_subscribers(db, ["all@example.org"])
    (sip,) = add_subscribers(db, ["sip@example.org"], components=["sip-gateway"])
    (web,) = add_subscribers(db, ["web@example.org"], components=["website"])
    add_subscribers(db, ["pending@example.org"], state="pending")
    add_subscribers(db, ["bounced@example.org"], state="bouncing")

    incident(db, components={"sip-gateway": "major_outage"})
    fan_out(db, SECRET)
    assert recipients(db, last_event(db)) == [everything, sip]

    incident(db, name="Everything is slow")  # no components: everyone confirmed
    fan_out(db, SECRET)
    assert recipients(db, last_event(db)) == [everything, sip, web]


def test_it_fans_out_maintenance_to_followers_of_its_components(db):
    (everything,) = add_subscribers(db, ["all@example.org"])
    add_subscribers(db, ["sip@example.org"], components=["sip-gateway"])
    (web,) = add_subscribers(db, ["web@example.org"], components=["website"])
    start = utcnow() + timedelta(days=1)
    schedule_maintenance(
        db, ALICE, name="Database upgrade", body="", scheduled_for=start,
        scheduled_until=start + timedelta(hours=1), components=["website"],
    )  # fmt: skip
    fan_out(db, SECRET)
    assert recipients(db) == [everything, web]


def test_an_incident_posted_without_notify_sends_nothing(db):
    add_subscribers(db, ["all@example.org"])
    incident(db, notify=False)
    fan_out(db, SECRET)
    assert db.outbox.rows() == []


def test_a_repeated_fan_out_adds_no_second_row(db):
    add_subscribers(db, [f"s{i}@example.org" for i in range(7)])
    incident(db)
    event_id = last_event(db)
    assert fan_out(db, SECRET, batch=3) == 7
    first = [(r.id, r.subscriber_id) for r in db.outbox.rows()]

    # As if the progress of the last batches had been lost: the batches run again.
    with db.engine.begin() as conn:
        conn.execute(sa.update(t.outbox_fanout).values(last_subscriber_id=0, done_at=None))
        conn.execute(sa.delete(t.meta).where(t.meta.c.key == "outbox.cursor"))
    assert fan_out(db, SECRET, batch=3) == 7

    assert [(r.id, r.subscriber_id) for r in db.outbox.rows()] == first
    assert db.outbox.by_event(event_id) == {"pending": 7}


def test_it_resumes_a_fan_out_cut_short(db):
    add_subscribers(db, [f"s{i}@example.org" for i in range(10)])
    incident(db)
    assert fan_out(db, SECRET, batch=4, max_rows=4) == 4
    assert len(db.outbox.rows()) == 4
    assert db.outbox.cursor() == 0  # not past an event that is not done
    assert fan_out(db, SECRET, batch=4) == 6
    assert len(db.outbox.rows()) == 10
    assert fan_out(db, SECRET, batch=4) == 0
    with db.engine.connect() as conn:  # the progress counts what was written
        assert conn.execute(sa.select(t.outbox_fanout.c.rows)).scalar() == 10


def test_the_cursor_waits_for_events_to_settle(db):
    add_subscribers(db, ["all@example.org"])
    incident(db)
    fan_out(db, SECRET, settle=300)
    assert db.outbox.cursor() == 0  # a later commit of a lower id could still come
    fan_out(db, SECRET, settle=300, now=utcnow() + timedelta(minutes=6))
    assert db.outbox.cursor() == last_event(db)
    assert len(db.outbox.rows()) == 1


def test_the_outbox_keeps_a_keyed_hash_not_the_address(db):
    add_subscribers(db, ["Alice@Example.org"])
    incident(db)
    fan_out(db, SECRET)
    (row,) = db.outbox.rows()
    assert "alice" not in str(tuple(row)).lower()
    assert row.recipient_hash == recipient_hash(SECRET, "email", "alice@example.org")
    assert row.recipient_hash != recipient_hash("another secret" * 3, "email", "alice@example.org")


def test_claims_are_disjoint_and_expire(db):
    add_subscribers(db, [f"s{i}@example.org" for i in range(5)])
    incident(db)
    fan_out(db, SECRET)
    now = utcnow()
    first = db.outbox.claim("one", ["email"], limit=3, lease=60, now=now)
    second = db.outbox.claim("two", ["email"], limit=3, lease=60, now=now)
    assert len(first) == 3 and len(second) == 2
    assert not {r.id for r in first} & {r.id for r in second}
    assert db.outbox.claim("three", ["email"], limit=5, lease=60, now=now) == []
    assert first[0].email.endswith("@example.org")  # the address comes from the subscriber

    later = db.outbox.claim("three", ["email"], limit=10, lease=60, now=now + timedelta(seconds=61))
    assert len(later) == 5  # the first two workers died: their claims expired
    assert {r.attempts for r in later} == {2}


def test_a_fan_out_hands_its_rows_to_its_notifier_already_claimed(db):
    add_subscribers(db, [f"s{i}@example.org" for i in range(5)], language="de")
    incident(db)
    claim = Claim("one", ("email",), lease=60)
    assert fan_out(db, SECRET, batch=2, claim=claim) == 2  # to be sent now: no more yet
    assert len(claim.rows) == 2
    assert fan_out(db, SECRET, batch=2, claim=claim) == 2
    assert fan_out(db, SECRET, batch=2, claim=claim) == 1

    rows = {r.id: r for r in db.outbox.rows()}
    assert sorted(c.id for c in claim.rows) == sorted(rows)  # every row, once
    assert {rows[c.id].claimed_by for c in claim.rows} == {"one"}
    assert {(c.email.endswith("@example.org"), c.language, c.attempts) for c in claim.rows} == {
        (True, "de", 1)
    }
    assert db.outbox.claim("two", ["email"], limit=10, lease=60, now=utcnow()) == []
    later = utcnow() + timedelta(seconds=61)  # "one" died: the rows are anyone's
    assert len(db.outbox.claim("two", ["email"], limit=10, lease=60, now=later)) == 5


def test_a_fan_out_claims_only_rows_its_notifier_can_deliver(db):
    add_subscribers(db, ["alice@example.org"])
    incident(db)
    claim = Claim("one", ("webhook",), lease=60)  # no mail server configured
    fan_out(db, SECRET, claim=claim)
    assert claim.rows == []
    (row,) = db.outbox.rows()
    assert row.claimed_by is None and row.attempts == 0


def test_a_large_fan_out_tells_the_postgresql_planner_at_once(db):
    # Without statistics PostgreSQL plans every claim as a scan and sort of all pending
    # rows, until autovacuum looks; the second batch of a large fan-out analyzes the table.
    if db.dialect != "postgresql":
        pytest.skip("SQLite plans these queries well without statistics")
    add_subscribers(db, [f"s{i}@example.org" for i in range(7)])
    incident(db)
    assert fan_out(db, SECRET, batch=3) == 7
    with db.engine.connect() as conn:
        query = "SELECT reltuples FROM pg_class WHERE oid = 'outbox'::regclass"  # this schema's
        known = conn.execute(sa.text(query))
        assert known.scalar() == 6  # the rows there after the second batch
