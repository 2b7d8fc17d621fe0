"""The subscriber lifecycle in the core: subscribe, confirm, manage, unsubscribe, purge,
find, export, erase, import — on both engines."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from status import jobs, links, ops
from status.clock import utcnow
from status.config import load_config
from status.ops import clock
from status.ops import subscriber_admin as admin
from status.ops import subscribers as subs

SECRET = "k" * 40
ALICE = ops.Actor("user", "alice", ip="198.51.100.7")
POLICY = subs.Policy(
    components=("sip-gateway", "media-relay", "website"),
    groups={"telephony": ("sip-gateway", "media-relay")},
    languages=("en", "de"),
)


def sign_up(db, email="bob@example.com", **kw):
    kw.setdefault("ip", "203.0.113.99")
    return subs.subscribe(db, POLICY, email=email, **kw)


def token_for(db, purpose, email="bob@example.com"):
    row = db.subscribers.by_email(email)
    return links.make(SECRET, purpose, row.id, row.token_version)


def mails(db):
    return [(e.kind, e.data["subscriber_id"], e.data["language"]) for e in db.events.after()]


def test_it_signs_up_pending_with_a_consent_record_and_a_confirmation_mail(db):
    assert sign_up(db, "Bob@Example.COM", groups=["telephony"], language="de") == "created"
    row = db.subscribers.by_email("bob@example.com")
    assert row.state == "pending" and row.language == "de" and not row.all_components
    assert db.subscribers.components(row.id) == ["media-relay", "sip-gateway"]
    [consent] = db.subscribers.consents(row.id)
    assert (consent.action, consent.method, consent.text_version, consent.ip_prefix) == (
        "subscribe", "form", "1", "203.0.113.0/24",
    )  # fmt: skip
    [event] = db.events.after()
    assert (event.kind, event.object_id, event.components, event.notify) == (
        "subscriber.confirm_requested", str(row.id), [], True,
    )  # fmt: skip
    assert event.data == {"subscriber_id": row.id, "language": "de"}
    assert db.audit.entries() == []  # the person's own step: the consent record proves it


def test_a_known_address_changes_nothing_and_gets_its_manage_link(db):
    sign_up(db)
    subs.confirm(db, POLICY, SECRET, token_for(db, links.CONFIRM))
    row = db.subscribers.by_email("bob@example.com")
    assert sign_up(db, components=["website"], language="de") == "known"
    assert db.subscribers.by_email("bob@example.com").all_components
    assert mails(db)[-1] == ("subscriber.manage_requested", row.id, "en")


def test_a_pending_address_gets_at_most_max_confirmations_a_day(db):
    now = utcnow()
    outcomes = [sign_up(db, at=now + timedelta(minutes=i)) for i in range(5)]
    assert outcomes == ["created", "resent", "resent", "capped", "capped"]
    assert len(mails(db)) == 3
    assert sign_up(db, at=now + timedelta(days=1, minutes=10)) == "resent"


def test_confirm_makes_it_confirmed_once_with_a_consent_record(db):
    sign_up(db)
    token = token_for(db, links.CONFIRM)
    subscriber_id = subs.confirm(db, POLICY, SECRET, token, ip="2001:db8:1:2::7")
    subs.confirm(db, POLICY, SECRET, token)  # a second click: nothing more
    row = db.subscribers.get(subscriber_id)
    assert row.state == "confirmed" and row.confirmed_at is not None
    consents = db.subscribers.consents(subscriber_id)
    assert [(c.action, c.method, c.ip_prefix) for c in consents] == [
        ("subscribe", "form", "203.0.113.0/24"),
        ("confirm", "double_opt_in", "2001:db8:1::/48"),
    ]


@pytest.mark.parametrize("purpose", [links.MANAGE, links.UNSUBSCRIBE])
def test_confirm_refuses_other_links_and_tampered_ones(db, purpose):
    sign_up(db)
    with pytest.raises(links.BadLink):
        subs.confirm(db, POLICY, SECRET, token_for(db, purpose))
    with pytest.raises(links.BadLink):
        subs.confirm(db, POLICY, SECRET, token_for(db, links.CONFIRM) + "x")
    assert db.subscribers.by_email("bob@example.com").state == "pending"


def test_a_link_of_an_older_version_is_refused(db):
    sign_up(db)
    token = token_for(db, links.CONFIRM)
    db.subscribers.bump_token_version(db.subscribers.by_email("bob@example.com").id, utcnow())
    with pytest.raises(links.BadLink):
        subs.confirm(db, POLICY, SECRET, token)


def test_manage_changes_components_and_language(db):
    sign_up(db)
    subs.confirm(db, POLICY, SECRET, token_for(db, links.CONFIRM))
    subs.manage(db, POLICY, SECRET, token_for(db, links.MANAGE), components=["website"],
                language="de")  # fmt: skip
    row = db.subscribers.by_email("bob@example.com")
    assert (row.language, row.all_components) == ("de", False)
    assert db.subscribers.components(row.id) == ["website"]
    subs.manage(db, POLICY, SECRET, token_for(db, links.MANAGE))
    assert db.subscribers.by_email("bob@example.com").all_components
    with pytest.raises(ops.Invalid):
        subs.manage(db, POLICY, SECRET, token_for(db, links.MANAGE), components=["nope"])


@pytest.mark.parametrize("purpose", [links.UNSUBSCRIBE, links.MANAGE])
def test_unsubscribe_deletes_the_persons_data(db, purpose):
    sign_up(db, components=["website"])
    subs.confirm(db, POLICY, SECRET, token_for(db, links.CONFIRM))
    row = db.subscribers.by_email("bob@example.com")
    token = token_for(db, purpose)
    assert subs.unsubscribe(db, SECRET, token, purpose=purpose) is True
    assert db.subscribers.get(row.id) is None
    assert db.subscribers.components(row.id) == [] and db.subscribers.consents(row.id) == []
    assert subs.unsubscribe(db, SECRET, token, purpose=purpose) is False  # again: the same
    with pytest.raises(ValueError):
        subs.unsubscribe(db, SECRET, token, purpose=links.CONFIRM)


@pytest.mark.parametrize(
    "email", ["bob@example.com\r\nBcc: eve@example.com", "bob@example.com\n", "no-at-sign",
              "a b@example.com", "", "x" * 250 + "@example.com"],
)  # fmt: skip
def test_it_refuses_addresses_that_are_not_one(db, email):
    with pytest.raises(ops.Invalid) as err:
        sign_up(db, email)
    assert err.value.field == "email"
    assert db.subscribers.count_by_state() == {}


def test_it_refuses_unknown_components_groups_and_languages(db):
    for kw, field in [
        ({"components": ["x"]}, "components"),
        ({"groups": ["x"]}, "groups"),
        ({"language": "fr"}, "language"),
        ({"components": []}, "components"),
    ]:
        with pytest.raises(ops.Invalid) as err:
            sign_up(db, **kw)
        assert err.value.field == field  # fmt: skip


def test_the_clock_purges_unconfirmed_sign_ups_after_the_days_given(db):
    start = utcnow()
    sign_up(db, "old@example.com", at=start)
    sign_up(db, "kept@example.com", at=start)
    subs.confirm(db, POLICY, SECRET, token_for(db, links.CONFIRM, "kept@example.com"))
    sign_up(db, "new@example.com", at=start + timedelta(days=6))
    assert clock.tick(db, start + timedelta(days=6, hours=23), unconfirmed_days=7) == []
    done = clock.tick(db, start + timedelta(days=7, minutes=1), unconfirmed_days=7)
    assert done == ["subscriber.purge_unconfirmed:1"]
    assert db.subscribers.by_email("old@example.com") is None
    assert db.subscribers.by_email("kept@example.com").state == "confirmed"
    assert db.subscribers.by_email("new@example.com").state == "pending"
    [entry] = [e for e in db.audit.entries() if e.action == "subscriber.purge_unconfirmed"]
    assert entry.actor == "system:clock" and entry.details["deleted"] == 1


@pytest.mark.parametrize("days, purged", [(None, False), (2, True)], ids=["default-7", "2"])
def test_the_clock_worker_purges_after_the_configured_days(db, config_file, days, purged):
    if days is not None:
        config_file.write_text(
            config_file.read_text() + f"subscriptions: {{unconfirmed_days: {days}}}\n"
        )
    config = load_config(config_file)
    sign_up(db, "old@example.com", at=utcnow() - timedelta(days=3))
    stopping = threading.Event()
    worker = threading.Thread(
        target=jobs.clock_worker(db, lambda: config, every=0.05), args=(stopping,), daemon=True
    )
    worker.start()
    try:
        deadline = time.monotonic() + 1.5  # some 30 ticks
        while db.subscribers.by_email("old@example.com") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stopping.set()
        worker.join()
    assert (db.subscribers.by_email("old@example.com") is None) == purged


def test_admins_find_export_and_erase_one_audited_by_id_only(db):
    sign_up(db, components=["website"])
    subs.confirm(db, POLICY, SECRET, token_for(db, links.CONFIRM))
    subscriber_id = db.subscribers.by_email("bob@example.com").id
    found = admin.find(db, ALICE, "BOB@example.com")
    assert found["id"] == subscriber_id and found["components"] == ["website"]
    assert admin.find(db, ALICE, "nobody@example.com") is None
    data = admin.export(db, ALICE, "bob@example.com")
    assert data["email"] == "bob@example.com" and data["state"] == "confirmed"
    assert [c["action"] for c in data["consent_records"]] == ["subscribe", "confirm"]
    assert admin.erase(db, ALICE, "bob@example.com") == subscriber_id
    assert db.subscribers.get(subscriber_id) is None
    with pytest.raises(ops.NotFound):
        admin.erase(db, ALICE, "bob@example.com")
    entries = db.audit.entries()
    assert [(e.action, e.target_id) for e in entries] == [
        ("subscriber.find", str(subscriber_id)), ("subscriber.find", ""),
        ("subscriber.export", str(subscriber_id)), ("subscriber.erase", str(subscriber_id)),
    ]  # fmt: skip
    assert all("example.com" not in str(e.details) for e in entries)
    assert {e.ip for e in entries} == {"198.51.100.7"}


def test_import_counts_as_confirmed_only_where_the_csv_says_so(db):
    sign_up(db, "known@example.com")
    text = (
        "email,confirmed,language,components,confirmed_at\n"
        "a@example.com,yes,de,website,2025-01-02T03:04:05+00:00\n"
        "b@example.com,no,,,\n"
        "known@example.com,yes,,,\n"
        "bad address,yes,,,\n"
        "c@example.com,,en,sip-gateway;nope,\n"
    )
    result = admin.import_csv(db, ALICE, POLICY, text)
    assert (result.added, result.confirmed, result.skipped) == (2, 1, 1)
    assert [e.split(":")[0] for e in result.errors] == ["line 5", "line 6"]
    a = db.subscribers.by_email("a@example.com")
    assert a.state == "confirmed" and a.language == "de"
    [consent] = db.subscribers.consents(a.id)
    assert (consent.action, consent.method, consent.at.year) == ("confirm", "import", 2025)
    b = db.subscribers.by_email("b@example.com")
    assert b.state == "pending" and b.all_components
    assert mails(db)[-1] == ("subscriber.confirm_requested", b.id, "en")
    [entry] = [e for e in db.audit.entries() if e.action == "subscriber.import"]
    assert entry.details == {"added": 2, "confirmed": 1, "skipped": 1, "errors": 2}


def test_import_needs_an_email_column(db):
    with pytest.raises(ops.Invalid):
        admin.import_csv(db, ALICE, POLICY, "mail,confirmed\nx@example.com,yes\n")
