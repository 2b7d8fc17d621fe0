"""The whole flow, as a person lives it, in English and German, on both engines: the
form's POST -> the confirmation mail at a real SMTP server (aiosmtpd on loopback) -> its
link: a button, then the POST -> an incident -> the notification with a list's headers
-> RFC 8058's one-click POST -> the next incident sends that address nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest

from status import ops
from status.clock import utcnow
from status.config import load_config
from status.runtime import runtime
from subscribers.notifier import Notifier
from tests.subscribers.support import (
    ALICE,
    add_subscribers,
    incident,
    smtp_server,
    write_config,
)

SAME = {"Origin": "https://status.test.example", "Sec-Fetch-Site": "same-origin"}
URL = re.compile(r"https://status\.test\.example(/\S+)")


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def config_file(tmp_path, smtp):  # the app's config, with the SMTP server in it
    return write_config(tmp_path / "status.yaml", smtp.port)


@pytest.fixture
def deliver(app, config_file):
    """Run the notifier until nothing is due (what `notify run` does in a loop)."""
    store, config = runtime(app).store, load_config(config_file)
    secret = app.config["SECRET_KEY"]  # the app's: its pages check the links
    return lambda: Notifier(store, lambda: config, secret, poll=0.05).run_until_idle()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link(message, prefix: str) -> str:
    """The path of the first link in the mail's text starting with ``prefix``."""
    paths = [p for p in URL.findall(text_of(message)) if p.startswith(prefix)]
    assert paths, f"no {prefix} link in:\n{text_of(message)}"
    return paths[0]


def sign_up(client, deliver, smtp, address, **form):
    data = {"email": address, "scope": "all", "language": "en", **form}
    response = client.post("/subscribe", data=data, headers=SAME)
    assert response.status_code == 200
    deliver()
    (mail,) = smtp.mailbox.to(address)
    return mail


def confirm(client, mail, button: str) -> None:
    path = link(mail, "/subscribe/confirm/")
    page = client.get(path)
    assert page.status_code == 200 and button in page.text
    assert "<form" in page.text and 'method="post"' in page.text.lower()
    response = client.post(path)
    assert response.status_code == 200


WORDS = {
    "en": {
        "confirm_subject": "[Test Cloud Status] Confirm your subscription",
        "button": "Confirm my subscription",
        "subject": "[Test Cloud Status] Investigating: Calls failing in EU",
        "footer": "Unsubscribe",
    },
    "de": {
        "confirm_subject": "[Test Cloud Status] Abonnement bestätigen",
        "button": "Abonnement bestätigen",
        "subject": "[Test Cloud Status] Wird untersucht: Calls failing in EU",
        "footer": "Abbestellen",
    },
}


@pytest.mark.parametrize("lang", ["en", "de"])
def test_it_subscribes_confirms_notifies_and_unsubscribes_in_one_click(
    app, client, smtp, deliver, lang
):
    words, store = WORDS[lang], runtime(app).store
    address = f"person-{lang}@example.org"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang  # the person's browser

    mail = sign_up(client, deliver, smtp, address, language=lang)
    assert mail["Subject"] == words["confirm_subject"]
    assert mail["Content-Language"] == lang
    assert store.subscribers.by_email(address).state == "pending"
    incident(store, name="Before confirming")
    deliver()
    assert len(smtp.mailbox.to(address)) == 1  # not confirmed yet: nothing but the mail

    confirm(client, mail, words["button"])
    assert store.subscribers.by_email(address).state == "confirmed"

    incident(store, components={"sip-gateway": "major_outage"})
    deliver()
    _, notice = smtp.mailbox.to(address)
    assert notice["Subject"] == words["subject"]
    assert words["footer"] in text_of(notice)
    assert re.fullmatch(r"<outbox\.\d+\.\d+@status\.test\.example>", notice["Message-ID"])
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.fullmatch(r"<https://status\.test\.example(/unsubscribe/\S+)>",
                             notice["List-Unsubscribe"]).group(1)  # fmt: skip

    # RFC 8058: what a mail client sends, without a session, an Origin or a button
    response = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert store.subscribers.by_email(address) is None

    incident(store, name="Calls failing again")
    deliver()
    assert len(smtp.mailbox.to(address)) == 2


def test_a_confirmed_address_signing_up_again_gets_its_manage_link(app, client, smtp, deliver):
    mail = sign_up(client, deliver, smtp, "bob@example.org")
    confirm(client, mail, "Confirm")

    client.post("/subscribe", data={"email": "bob@example.org", "scope": "all"}, headers=SAME)
    deliver()
    _, again = smtp.mailbox.to("bob@example.org")
    assert again["Subject"] == "[Test Cloud Status] Your subscription"
    page = client.get(link(again, "/subscribe/manage/"))
    assert page.status_code == 200 and "bob@example.org" in page.text


def test_each_subscriber_hears_only_of_the_components_they_follow(app, client, smtp, deliver):
    for address, form in (
        ("all@example.org", {"scope": "all"}),
        ("sip@example.org", {"scope": "some", "component": ["sip-gateway"]}),
        ("web@example.org", {"scope": "some", "component": ["website"]}),
    ):
        confirm(client, sign_up(client, deliver, smtp, address, **form), "Confirm")

    store = runtime(app).store
    incident(store, name="SIP down", components={"sip-gateway": "major_outage"})
    incident(store, name="Website slow", components={"website": "degraded_performance"})
    incident(store, name="Everything", components=None)  # no components: everyone
    deliver()

    def subjects(address):
        return sorted(m["Subject"].split(": ", 1)[1] for m in smtp.mailbox.to(address)[1:])

    assert subjects("all@example.org") == ["Everything", "SIP down", "Website slow"]
    assert subjects("sip@example.org") == ["Everything", "SIP down"]
    assert subjects("web@example.org") == ["Everything", "Website slow"]


def test_an_incident_posted_with_notify_off_sends_nothing(app, client, smtp, deliver):
    confirm(client, sign_up(client, deliver, smtp, "bob@example.org"), "Confirm")
    incident(runtime(app).store, name="Quiet", notify=False)
    deliver()
    assert len(smtp.mailbox.to("bob@example.org")) == 1  # the confirmation alone


def test_updates_resolutions_and_maintenance_arrive_as_the_feed_words_them(
    app, client, smtp, deliver
):
    confirm(client, sign_up(client, deliver, smtp, "bob@example.org"), "Confirm")
    store = runtime(app).store
    incident_id = incident(store, name="Calls failing", components={"sip-gateway": "major_outage"})
    identified = "A router in FRA dropped its routes; we are restoring them."
    ops.update_incident(store, ALICE, incident_id, status="identified", body=identified)
    ops.update_incident(store, ALICE, incident_id, status="monitoring", body="Shh.", notify=False)
    ops.resolve_incident(store, ALICE, incident_id, body="Calls work again.")
    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    ops.schedule_maintenance(
        store, ALICE, name="Database upgrade", body="Short interruptions possible.",
        scheduled_for=start, scheduled_until=start + timedelta(hours=2), components=["website"],
    )  # fmt: skip
    deliver()

    mails = {m["Subject"]: text_of(m) for m in smtp.mailbox.to("bob@example.org")[1:]}
    assert sorted(mails) == [
        "[Test Cloud Status] Identified: Calls failing",
        "[Test Cloud Status] Investigating: Calls failing",
        "[Test Cloud Status] Resolved: Calls failing",
        "[Test Cloud Status] Scheduled: Database upgrade",
    ]  # not the update posted with notify off
    assert identified in mails["[Test Cloud Status] Identified: Calls failing"]
    assert "Calls work again." in mails["[Test Cloud Status] Resolved: Calls failing"]
    window = mails["[Test Cloud Status] Scheduled: Database upgrade"]
    assert "Short interruptions possible." in window
    local = start.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{local:%H:%M}" in window and str(local.day) in window  # the site's time

    # The feed says the same words for the same updates.
    runtime(app).snapshots = None  # the page's snapshot, built afresh now
    feed = feedparser.parse(client.get("/history.atom").data)
    (entry,) = [e for e in feed.entries if e.link.endswith(f"/incidents/{incident_id}")]
    assert identified in entry.content[0].value and "Calls work again." in entry.content[0].value


def test_a_confirmation_goes_to_the_person_who_signed_up_alone(app, client, smtp, deliver):
    add_subscribers(runtime(app).store, ["old@example.org", "older@example.org"])
    mail = sign_up(client, deliver, smtp, "new@example.org", language="de")
    assert [rcpt for rcpt, _ in smtp.mailbox.message_ids()] == ["new@example.org"]
    text = text_of(mail)
    assert "Bitte bestätigen Sie" in text and "/subscribe/manage/" not in text
