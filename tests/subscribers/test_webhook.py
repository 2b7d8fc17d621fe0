"""Webhook subscriptions against a real HTTPS receiver on loopback, on both engines:
confirmation by challenge, signed Statuspage-shaped payloads, per-component filtering,
retries, permanent failures, timeouts, redirects and the SSRF guard at delivery."""

from __future__ import annotations

import pytest

from status import schema as t
from status.config import load_config
from status.models import OutboxState
from status.ops import set_component_status
from status.ops.announce import announce_changes
from tests.probes.servers import make_cert
from tests.subscribers.receiver import (
    Receiver,
    drain,
    register,
    verify_signature,
    write_config,
)
from tests.subscribers.support import add_subscribers, incident, subscriber_state

VERIFY = "subscriber.confirm_requested"


@pytest.fixture
def cert(tmp_path):
    return make_cert(tmp_path)


@pytest.fixture
def receiver(cert):
    with Receiver(cert) as server:
        yield server


@pytest.fixture
def config_path(tmp_path, cert):
    return write_config(tmp_path / "status.yaml", cert)


def confirmed(db, config_path, url, **kw):
    """A webhook registered and confirmed the way a receiver does it: by the echo."""
    reg = register(db, config_path, url, **kw)
    drain(db, config_path, until=lambda: subscriber_state(db, reg.subscriber_id) == "confirmed")
    assert subscriber_state(db, reg.subscriber_id) == "confirmed"
    return reg


def rows(db, channel="webhook"):
    return [r for r in db.outbox.rows() if r.channel == channel]


def test_it_confirms_by_challenge_and_delivers_a_signed_incident(db, receiver, config_path):
    reg = register(db, config_path, receiver.url())
    assert reg.secret.startswith("whsec_")
    assert subscriber_state(db, reg.subscriber_id) == "pending"
    incident(db, name="Before confirmation")  # a pending webhook gets nothing
    drain(db, config_path, until=lambda: subscriber_state(db, reg.subscriber_id) == "confirmed")

    (check,) = receiver.to(event=VERIFY)
    assert verify_signature(reg.secret, check.headers, check.body)
    assert check.json["verification"]["challenge"]
    assert subscriber_state(db, reg.subscriber_id) == "confirmed"

    incident(db, name="Calls failing in EU", components={"sip-gateway": "major_outage"})
    drain(db, config_path, until=lambda: len(receiver.to(event="incident.opened")) == 1)
    (got,) = receiver.to(event="incident.opened")
    assert verify_signature(reg.secret, got.headers, got.body)
    assert not verify_signature("whsec_wrong", got.headers, got.body)
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers["Host"] == receiver.url().split("/")[2]
    payload = got.json
    assert payload["meta"]["unsubscribe"].startswith("https://status.test.example/unsubscribe/")
    assert payload["page"]["status_indicator"] == "critical"
    assert payload["page"]["status_description"] == "Major Service Outage"
    item = payload["incident"]
    assert item["name"] == "Calls failing in EU"
    assert item["status"] == "investigating" and item["impact"] == "major"
    assert item["shortlink"].startswith("https://status.test.example/incidents/")
    (update,) = item["incident_updates"]
    assert update["body"] == "We are looking into failing calls."
    assert [c["id"] for c in item["components"]] == ["sip-gateway"]
    assert item["components"][0]["status"] == "major_outage"
    assert all(r.state == OutboxState.SENT.value for r in rows(db))
    assert len(receiver.to()) == 2  # the check and the incident: nothing before it


def test_only_webhooks_following_a_component_of_the_event_get_it(db, receiver, config_path):
    confirmed(db, config_path, receiver.url("/sip"), components=["sip-gateway"])
    confirmed(db, config_path, receiver.url("/web"), components=["website"])
    confirmed(db, config_path, receiver.url("/all"))

    incident(db, components={"sip-gateway": "partial_outage"})
    drain(db, config_path, until=lambda: len(receiver.to("/all", "incident.opened")) == 1)
    assert len(receiver.to("/sip", "incident.opened")) == 1
    assert receiver.to("/web", "incident.opened") == []


def test_a_component_change_reaches_its_webhooks_as_a_component_update(db, receiver, config_path):
    reg = confirmed(db, config_path, receiver.url("/sip"), components=["sip-gateway"])
    confirmed(db, config_path, receiver.url("/web"), components=["website"])
    add_subscribers(db, ["reader@example.org"])  # by email: people read incidents
    config = load_config(config_path)
    announce_changes(db, config)
    set_component_status(db, "sip-gateway", "major_outage", reason="refused", source="probes")
    (announced,) = announce_changes(db, config)
    drain(db, config_path, until=lambda: receiver.to("/sip", "component.updated"))

    (got,) = receiver.to("/sip", "component.updated")
    assert verify_signature(reg.secret, got.headers, got.body)
    payload = got.json
    change = payload["component_update"]
    assert change["id"] == str(payload["meta"]["event_id"]) and announced.endswith(":sip-gateway")
    assert change["component_id"] == "sip-gateway"
    assert (change["old_status"], change["new_status"]) == ("operational", "major_outage")
    assert change["created_at"].endswith("Z")
    component = payload["component"]
    assert (component["id"], component["name"]) == ("sip-gateway", "SIP Gateway")
    assert component["status"] == "major_outage"
    assert "incident" not in payload
    assert payload["page"]["status_indicator"] == "critical"  # as /api/v2/status.json says
    assert receiver.to("/web", "component.updated") == []  # follows another component
    event_id = int(change["id"])
    assert [r.channel for r in db.outbox.rows(event_id)] == ["webhook"]  # no mail


def test_a_5xx_is_retried_and_delivered_exactly_once(db, receiver, config_path):
    confirmed(db, config_path, receiver.url())
    receiver.script("/hook", 503, 500, 200)
    incident(db)
    drain(db, config_path, until=lambda: rows(db)[-1].state == "sent")

    got = receiver.to(event="incident.opened")
    assert len(got) == 3  # 503, 500, then 200: and not again
    assert len({r.headers["X-Leitstand-Delivery"] for r in got}) == 1  # one delivery id
    assert rows(db)[-1].state == OutboxState.SENT.value
    drain(db, config_path)
    assert len(receiver.to(event="incident.opened")) == 3


def test_a_410_fails_at_once_and_disables_the_webhook(db, receiver, config_path):
    reg = confirmed(db, config_path, receiver.url())
    receiver.script("/hook", 410)
    incident(db)
    drain(db, config_path, until=lambda: rows(db)[-1].state != "pending")

    row = rows(db)[-1]
    assert row.state == OutboxState.FAILED.value
    assert "permanent" in row.last_error and "410" in row.last_error
    assert subscriber_state(db, reg.subscriber_id) == "bouncing"
    incident(db, name="The next one")
    drain(db, config_path)
    assert len(receiver.to(event="incident.opened")) == 1


def test_a_429_is_retried(db, receiver, config_path):
    reg = confirmed(db, config_path, receiver.url())
    receiver.script("/hook", 429, 408, 200)
    incident(db)
    drain(db, config_path, until=lambda: rows(db)[-1].state == "sent")
    assert len(receiver.to(event="incident.opened")) == 3
    assert subscriber_state(db, reg.subscriber_id) == "confirmed"


def test_a_timeout_is_retried(db, receiver, tmp_path, cert):
    config_path = write_config(tmp_path / "slow.yaml", cert, read_timeout="300ms")
    confirmed(db, config_path, receiver.url())
    receiver.script("/hook", ("sleep", 2.0), 200)
    incident(db)
    drain(db, config_path, until=lambda: rows(db)[-1].state == "sent")

    assert len(receiver.to(event="incident.opened")) == 2
    assert rows(db)[-1].state == OutboxState.SENT.value


def test_redirects_are_not_followed(db, receiver, config_path):
    reg = confirmed(db, config_path, receiver.url())
    receiver.script("/hook", ("redirect", receiver.url("/elsewhere")))
    incident(db)
    drain(db, config_path, until=lambda: rows(db)[-1].state != "pending")

    assert receiver.to("/elsewhere") == []
    assert rows(db)[-1].state == OutboxState.FAILED.value
    assert "redirect" in rows(db)[-1].last_error
    assert subscriber_state(db, reg.subscriber_id) == "bouncing"


def test_a_receiver_that_does_not_echo_stays_unconfirmed(db, receiver, config_path):
    reg = register(db, config_path, receiver.url())
    receiver.script("/hook", 204, 200)  # answers, but never with the challenge
    receiver.scripts["/hook"] += [200] * 5
    drain(db, config_path, until=lambda: len(receiver.to()) >= 2, timeout=5)
    assert subscriber_state(db, reg.subscriber_id) == "pending"
    incident(db)
    drain(db, config_path)
    assert receiver.to(event="incident.opened") == []


def test_the_address_is_checked_again_at_delivery(db, receiver, config_path, tmp_path, cert):
    reg = confirmed(db, config_path, receiver.url())
    strict = write_config(tmp_path / "strict.yaml", cert, allow=False)  # the default
    incident(db)
    drain(db, strict, until=lambda: rows(db)[-1].state != "pending")

    assert receiver.to(event="incident.opened") == []
    row = rows(db)[-1]
    assert row.state == OutboxState.FAILED.value and "loopback" in row.last_error
    assert subscriber_state(db, reg.subscriber_id) == "bouncing"


def test_the_outbox_keeps_no_url(db, receiver, config_path):
    confirmed(db, config_path, receiver.url())
    with db.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(t.outbox.select())]
    assert stored and "127.0.0.1" not in str(stored)
