"""Webhook subscriptions through the public API, the admin API and the CLI (both
engines): registration, refusals by the SSRF guard, unsubscribing by the payload's
link, listing and erasing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from status import ops
from status.runtime import runtime
from tests.probes.servers import make_cert
from tests.subscribers.receiver import Receiver, drain, verify_signature, write_config
from tests.subscribers.support import incident, subscriber_state

REFUSED_BY_DEFAULT = [
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://localhost/hook",
    "https://[::ffff:127.0.0.1]/hook",
]


@pytest.fixture
def cert(tmp_path):
    return make_cert(tmp_path)


@pytest.fixture
def receiver(cert):
    with Receiver(cert) as server:
        yield server


@pytest.fixture
def admin_headers(app):
    store = runtime(app).store
    _, token = ops.create_token(store, ops.Actor.system("tests"), name="t", role_name="admin")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def allowing(config_file, cert):
    """The app's config as the loopback receiver needs it (loopback allowed, its CA)."""
    return write_config(config_file, cert)


def use_config(app, path) -> None:
    assert runtime(app).config_holder.reload()


@pytest.mark.parametrize("url", REFUSED_BY_DEFAULT)
def test_private_targets_are_refused_by_default(client, url):
    answer = client.post("/api/v1/webhooks", json={"url": url})
    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "url"
    assert runtime(client.application).store.subscribers.webhooks() == []


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/hook", "ftp://example.org/", "https://user:pw@1.1.1.1/"]
)
def test_only_plain_https_urls_are_taken(client, url):
    assert client.post("/api/v1/webhooks", json={"url": url}).status_code == 422


def test_the_email_sign_up_is_unchanged(client):
    answer = client.post("/api/v1/subscribers", json={"email": "ada@example.org"})
    assert answer.status_code == 202 and answer.json["status"] == "accepted"
    assert "secret" not in answer.json


def test_register_confirm_deliver_and_unsubscribe_by_the_payloads_link(
    app, client, receiver, allowing
):
    use_config(app, allowing)
    store, secret = runtime(app).store, app.config["SECRET_KEY"]
    answer = client.post(
        "/api/v1/webhooks", json={"url": receiver.url(), "components": ["sip-gateway"]}
    )
    assert answer.status_code == 201, answer.json
    hook_id, signing = answer.json["id"], answer.json["secret"]
    assert answer.json["status"] == "pending" and signing.startswith("whsec_")
    confirmed = lambda: subscriber_state(store, hook_id) == "confirmed"  # noqa: E731
    drain(store, allowing, until=confirmed, secret=secret)

    incident(store, components={"sip-gateway": "partial_outage"})
    drain(store, allowing, until=lambda: receiver.to(event="incident.opened"), secret=secret)
    (got,) = receiver.to(event="incident.opened")
    assert verify_signature(signing, got.headers, got.body)

    unsubscribe = urlsplit(got.json["meta"]["unsubscribe"]).path
    assert client.get(unsubscribe).status_code == 200  # a GET never unsubscribes
    assert subscriber_state(store, hook_id) == "confirmed"
    assert client.post(unsubscribe).status_code == 200
    assert subscriber_state(store, hook_id) is None
    incident(store, name="After unsubscribing")
    drain(store, allowing, secret=secret)
    assert len(receiver.to(event="incident.opened")) == 1


def test_one_url_is_registered_a_few_times_a_day_at_most(app, client, receiver, allowing):
    use_config(app, allowing)
    for _ in range(3):
        assert client.post("/api/v1/webhooks", json={"url": receiver.url()}).status_code == 201
    again = client.post("/api/v1/webhooks", json={"url": receiver.url()})
    assert again.status_code == 409


def test_registrations_share_the_sign_ups_budget_per_ip(app, client, receiver, allowing):
    use_config(app, allowing)
    app.config["SUBSCRIBE_LIMIT"] = "3 per minute"
    sign_up = client.post("/api/v1/subscribers", json={"email": "bob@example.org"})
    codes = [
        client.post("/api/v1/webhooks", json={"url": receiver.url(f"/h{i}")}).status_code
        for i in range(3)
    ]
    assert [sign_up.status_code, *codes] == [202, 201, 201, 429]
    assert len(runtime(app).store.subscribers.webhooks()) == 2


def test_admins_list_and_erase_webhooks_without_seeing_secrets(
    app, client, receiver, allowing, admin_headers
):
    use_config(app, allowing)
    hook_id = client.post("/api/v1/webhooks", json={"url": receiver.url()}).json["id"]
    assert client.get("/api/v1/webhooks").status_code == 401
    listed = client.get("/api/v1/webhooks", headers=admin_headers).json["webhooks"]
    assert [(w["id"], w["url"], w["state"]) for w in listed] == [
        (hook_id, receiver.url(), "pending")
    ]
    assert "secret" not in str(listed)
    assert client.delete(f"/api/v1/webhooks/{hook_id}", headers=admin_headers).status_code == 204
    assert client.delete(f"/api/v1/webhooks/{hook_id}", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/webhooks", headers=admin_headers).json["webhooks"] == []
    entries = [e.action for e in runtime(app).store.audit.entries()]
    assert "subscriber.erase" in entries


def test_the_cli_lists_and_erases_webhooks(app, runner, client, receiver, allowing):
    use_config(app, allowing)
    hook_id = client.post("/api/v1/webhooks", json={"url": receiver.url()}).json["id"]
    listed = runner.invoke(args=["subscriber", "webhooks"])
    assert listed.exit_code == 0 and f"{hook_id}\tpending\tall\t{receiver.url()}" in listed.output
    erased = runner.invoke(args=["subscriber", "erase-webhook", str(hook_id)])
    assert erased.exit_code == 0, erased.output
    assert runner.invoke(args=["subscriber", "erase-webhook", str(hook_id)]).exit_code == 1
    assert runtime(app).store.subscribers.webhooks() == []


def test_a_receiver_may_confirm_by_posting_the_challenge_to_the_confirm_link(
    app, client, receiver, allowing
):
    use_config(app, allowing)
    store, secret = runtime(app).store, app.config["SECRET_KEY"]
    receiver.script("/hook", 202)  # accepted, but no challenge in the answer
    hook_id = client.post("/api/v1/webhooks", json={"url": receiver.url()}).json["id"]
    drain(store, allowing, secret=secret)
    assert subscriber_state(store, hook_id) == "pending"

    (check,) = receiver.to(event="subscriber.confirm_requested")
    challenge = check.json["verification"]["challenge"]
    assert client.post(f"/subscribe/confirm/{challenge}").status_code == 200
    assert subscriber_state(store, hook_id) == "confirmed"
