"""Email delivery against a real SMTP server on loopback (aiosmtpd), both engines."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from status import links
from status import schema as t
from status.clock import utcnow
from tests.conftest import SECRET
from tests.subscribers.support import (
    add_subscribers,
    incident,
    notifier,
    smtp_server,
    subscriber_state,
    write_config,
)


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def smtp(request):
    with smtp_server(pipelining=request.param) as server:
        yield server


@pytest.fixture
def config(tmp_path, smtp):
    return write_config(tmp_path / "status.yaml", smtp.port)


def states(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(t.outbox.c.state, sa.func.count()).group_by(t.outbox.c.state))
        return dict(rows.all())


def due_now(db) -> None:
    """Skip the back-off: every waiting row is due."""
    with db.engine.begin() as conn:
        conn.execute(sa.update(t.outbox).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_it_sends_one_multipart_message_with_the_headers_a_list_needs(db, smtp, config):
    (alice,) = add_subscribers(db, ["alice@example.org"])
    incident_id = incident(db, components={"sip-gateway": "major_outage"})

    notifier(db, config).run_until_idle()

    (message,) = smtp.mailbox.to("alice@example.org")
    assert message["Subject"] == "[Test Cloud Status] Investigating: Calls failing in EU"
    assert message["From"] == "Test Status <status@test.example>"
    assert message["To"] == "alice@example.org"
    assert re.fullmatch(r"<outbox\.\d+\.\d+@status\.test\.example>", message["Message-ID"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(
        r"<(https://status\.test\.example/\S+)>", message["List-Unsubscribe"]
    )
    token = unsubscribe.group(1).rsplit("/", 1)[1]
    assert links.check(SECRET, links.UNSUBSCRIBE, token).subscriber_id == alice
    assert message.get_content_type() == "multipart/alternative"
    text = text_of(message)
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "We are looking into failing calls." in body
        assert f"https://status.test.example/incidents/{incident_id}" in body
        assert "SIP Gateway" in body
    manage = re.search(r"https://status\.test\.example/subscribe/manage/(\S+)", text).group(1)
    assert links.check(SECRET, links.MANAGE, manage).subscriber_id == alice
    assert "<img" not in html and "http://" not in html  # no remote images, no tracking
    assert states(db) == {"sent": 1}


def test_it_speaks_the_subscribers_language(db, smtp, config):
    add_subscribers(db, ["anna@example.de"], language="de")
    add_subscribers(db, ["alice@example.org"], language="en")
    incident(db)

    notifier(db, config).run_until_idle()

    (german,) = smtp.mailbox.to("anna@example.de")
    assert german["Subject"] == "[Test Cloud Status] Wird untersucht: Calls failing in EU"
    assert "Abbestellen" in text_of(german)
    (english,) = smtp.mailbox.to("alice@example.org")
    assert "Unsubscribe" in text_of(english)


def test_a_line_break_in_a_name_cannot_add_a_header(db, smtp, config):
    add_subscribers(db, ["alice@example.org"])
    incident(db, name="Calls failing\r\nBcc: mallory@example.net\nX-Evil: 1")

    notifier(db, config).run_until_idle()

    (message,) = smtp.mailbox.to("alice@example.org")
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == (
        "[Test Cloud Status] Investigating: Calls failing Bcc: mallory@example.net X-Evil: 1"
    )
    assert smtp.mailbox.to("mallory@example.net") == []


def test_an_address_that_could_inject_a_header_is_never_sent_to(db, smtp, config):
    add_subscribers(db, ["eve@example.org\r\nBcc: mallory@example.net"])
    add_subscribers(db, ["alice@example.org"])
    incident(db)

    notifier(db, config).run_until_idle()

    assert [rcpt for rcpt, _, _ in smtp.mailbox.messages] == ["alice@example.org"]
    assert states(db) == {"sent": 1, "failed": 1}


def test_non_ascii_names_and_subjects_are_encoded(db, smtp, config, tmp_path):
    write_config(config, smtp.port)
    text = config.read_text().replace("Test Cloud Status", "Störungsmelder Köln ☎")
    config.write_text(text.replace('"Test Status <', '"Prüfstand Ärger <'))
    add_subscribers(db, ["anna@example.de"], language="de")
    incident(db, name="Anrufe schlagen fehl — Grüße aus 東京", body="Wir prüfen das. ✓")

    notifier(db, config).run_until_idle()

    ((_, message, raw),) = smtp.mailbox.messages
    assert raw.isascii()  # RFC 2047 words and base64 bodies: no 8-bit data on the wire
    assert message["Subject"] == (
        "[Störungsmelder Köln ☎] Wird untersucht: Anrufe schlagen fehl — Grüße aus 東京"
    )
    assert message["From"].addresses[0].display_name == "Prüfstand Ärger"
    assert "Wir prüfen das. ✓" in text_of(message)


def test_mail_down_during_an_incident_then_back_delivers_each_message_once(db, smtp, config):
    # A back-off longer than the run: each row is tried once while the server is down.
    text = config.read_text().replace("retry_after: 50ms", "retry_after: 30s")
    config.write_text(text.replace("retry_max: 200ms", "retry_max: 60s"))
    emails = [f"s{i}@example.org" for i in range(25)]
    add_subscribers(db, emails)
    smtp.stop()
    incident(db)
    worker = notifier(db, config)

    worker.run_until_idle()
    assert states(db) == {"pending": 25}
    rows = db.outbox.rows()
    assert all(r.attempts == 1 and "SMTP" in (r.last_error or "") for r in rows)

    smtp.start()
    due_now(db)
    worker.run_until_idle()

    assert states(db) == {"sent": 25}
    assert sorted(rcpt for rcpt, _ in smtp.mailbox.message_ids()) == sorted(emails)
    assert len({mid for _, mid in smtp.mailbox.message_ids()}) == 25


def test_a_temporary_refusal_is_retried_with_back_off(db, smtp, config):
    add_subscribers(db, ["bob@example.org"])
    smtp.mailbox.refuse["bob@example.org"] = "451 4.7.1 try again later"
    incident(db)
    worker = notifier(db, config)

    before = utcnow()
    worker.run_until_idle()
    (row,) = db.outbox.rows()
    assert row.state == "pending" and row.attempts == 1 and "451" in row.last_error
    first_wait = (row.next_attempt_at - before).total_seconds()
    assert 0.04 <= first_wait <= 1.0  # retry_after: 50ms

    due_now(db)
    before = utcnow()
    worker.run_until_idle()
    (row,) = db.outbox.rows()
    assert row.attempts == 2
    assert (row.next_attempt_at - before).total_seconds() >= 0.09  # twice as long

    del smtp.mailbox.refuse["bob@example.org"]
    due_now(db)
    worker.run_until_idle()
    assert len(smtp.mailbox.to("bob@example.org")) == 1
    assert states(db) == {"sent": 1}
    assert subscriber_state(db, db.outbox.rows()[0].subscriber_id) == "confirmed"


def test_a_permanent_refusal_marks_the_subscriber_bouncing_and_sends_no_more(db, smtp, config):
    (bob,) = add_subscribers(db, ["bob@example.org"])
    add_subscribers(db, ["alice@example.org"])
    smtp.mailbox.refuse["bob@example.org"] = "550 5.1.1 no such user"
    incident(db)
    worker = notifier(db, config)
    worker.run_until_idle()

    failed = [r for r in db.outbox.rows() if r.subscriber_id == bob]
    assert failed[0].state == "failed" and "550" in failed[0].last_error
    assert subscriber_state(db, bob) == "bouncing"

    del smtp.mailbox.refuse["bob@example.org"]
    incident(db, name="Another one")
    worker.run_until_idle()
    assert smtp.mailbox.to("bob@example.org") == []
    assert len(smtp.mailbox.to("alice@example.org")) == 2


def test_it_gives_up_after_the_maximum_age(db, smtp, config):
    config.write_text(
        config.read_text().replace("retry_max: 200ms", "retry_max: 200ms\n  max_age: 1s")
    )
    add_subscribers(db, ["bob@example.org"])
    smtp.mailbox.refuse["bob@example.org"] = "421 4.3.2 busy"
    incident(db)
    worker = notifier(db, config)
    worker.run_until_idle()
    with db.engine.begin() as conn:  # a day later
        conn.execute(sa.update(t.outbox).values(created_at=utcnow() - timedelta(days=1)))
    due_now(db)
    worker.run_until_idle()
    (row,) = db.outbox.rows()
    assert row.state == "failed" and "gave up after 2 attempts" in row.last_error


def test_a_subscriber_who_left_before_the_send_gets_nothing(db, smtp, config):
    (bob,) = add_subscribers(db, ["bob@example.org"])
    incident(db)
    from subscribers.outbox import fan_out

    fan_out(db, SECRET)
    with db.engine.begin() as conn:  # erased (the lifecycle's unsubscribe)
        conn.execute(sa.delete(t.subscribers).where(t.subscribers.c.id == bob))
    notifier(db, config).run_until_idle()
    assert smtp.mailbox.messages == []
    (row,) = db.outbox.rows()
    assert row.state == "cancelled" and row.subscriber_id is None


def test_connections_are_reused_up_to_their_cap(db, smtp, config):
    config.write_text(
        config.read_text().replace("connections: 2", "connections: 2\n  messages_per_connection: 5")
    )
    add_subscribers(db, [f"s{i}@example.org" for i in range(20)])
    sessions = []
    original = smtp.mailbox.handle_DATA

    async def counting(server, session, envelope):
        sessions.append(id(session))
        return await original(server, session, envelope)

    smtp.mailbox.handle_DATA = counting
    incident(db)
    notifier(db, config).run_until_idle()
    assert smtp.mailbox.count() == 20
    assert 4 <= len(set(sessions)) <= 6  # 20 messages, 5 per connection
    assert max(Counter(sessions).values()) == 5  # none more, with the next one in line too


def test_a_refused_message_is_retried_or_fails_by_the_code(db, smtp, config):
    add_subscribers(db, ["bob@example.org", "carol@example.org"])
    smtp.mailbox.refuse_data["bob@example.org"] = "452 4.3.1 insufficient storage"
    smtp.mailbox.refuse_data["carol@example.org"] = "554 5.7.1 message refused"
    incident(db)

    notifier(db, config).run_until_idle()

    assert smtp.mailbox.messages == []
    bob, carol = db.outbox.rows()  # subscriber id order
    assert bob.state == "pending" and "452" in bob.last_error
    assert carol.state == "failed" and "554" in carol.last_error
    assert subscriber_state(db, carol.subscriber_id) == "bouncing"

    del smtp.mailbox.refuse_data["bob@example.org"]
    due_now(db)
    notifier(db, config).run_until_idle()
    assert [rcpt for rcpt, _, _ in smtp.mailbox.messages] == ["bob@example.org"]


def test_a_refused_sender_is_the_servers_trouble_not_the_subscribers(db, smtp, config):
    (bob,) = add_subscribers(db, ["bob@example.org"])
    smtp.mailbox.refuse_sender = "553 5.7.1 sender not allowed"
    incident(db)

    notifier(db, config).run_until_idle()

    (row,) = db.outbox.rows()
    assert row.state == "pending" and "553" in row.last_error  # retried: fix the config
    assert subscriber_state(db, bob) == "confirmed"

    smtp.mailbox.refuse_sender = None
    due_now(db)
    notifier(db, config).run_until_idle()
    assert len(smtp.mailbox.to("bob@example.org")) == 1


def test_the_envelope_announces_the_size_the_server_receives(db, smtp, config):
    add_subscribers(db, ["alice@example.org"])
    sizes = []
    original = smtp.mailbox.handle_DATA

    async def measuring(server, session, envelope):
        sizes.append((envelope.mail_options, len(envelope.original_content)))
        return await original(server, session, envelope)

    smtp.mailbox.handle_DATA = measuring
    incident(db)
    notifier(db, config).run_until_idle()

    ((options, received),) = sizes
    assert options == [f"SIZE={received + 3}"]  # with the final ".\r\n"


@pytest.mark.parametrize("utf8", [True, False], ids=["smtputf8", "ascii-only"])
def test_a_non_ascii_address_goes_only_to_a_server_that_speaks_smtputf8(db, tmp_path, utf8):
    with smtp_server(enable_SMTPUTF8=utf8) as server:
        config = write_config(tmp_path / "status.yaml", server.port)
        add_subscribers(db, ["jürgen@example.de", "anna@example.de"])
        incident(db)

        notifier(db, config).run_until_idle()

        received = sorted(rcpt for rcpt, _, _ in server.mailbox.messages)
        jurgen, anna = db.outbox.rows()
        assert anna.state == "sent"
        if utf8:
            assert received == ["anna@example.de", "jürgen@example.de"]
        else:
            assert received == ["anna@example.de"]
            assert jurgen.state == "failed" and "non-ASCII" in jurgen.last_error


def test_a_line_starting_with_a_dot_arrives_unharmed(smtp):
    from status.config import Smtp
    from subscribers.smtp import SmtpPool

    settings = Smtp.model_validate(
        {"host": "127.0.0.1", "port": smtp.port, "starttls": False, "from": "s@example.org"}
    )
    body = b"line one\r\n.\r\n..two dots\r\n.end\r\n"
    message = b"Subject: dots\r\nTo: alice@example.org\r\n\r\n" + body

    async def send() -> None:
        pool = SmtpPool(settings, 1)
        await pool.send("s@example.org", "alice@example.org", message)
        await pool.close()

    asyncio.run(send())
    ((_, _, raw),) = smtp.mailbox.messages
    assert raw.endswith(body)


def stall_once(smtp, config, *, taken: bool) -> None:
    """The notifier waits 300 ms for an answer; the server's first answer to DATA comes
    after 2 s, having ``taken`` the message first or not."""
    config.write_text(
        config.read_text().replace("connections: 2", "connections: 2\n  timeout: 300ms")
    )
    original = smtp.mailbox.handle_DATA
    stalls = [2.0]

    async def stalling(server, session, envelope):
        answer = await original(server, session, envelope) if taken else None
        if stalls:
            await asyncio.sleep(stalls.pop())  # longer than the timeout
        return answer or await original(server, session, envelope)

    smtp.mailbox.handle_DATA = stalling


def answer_again(db, config) -> None:
    """Later, the server answering again (a timeout that a loaded test box cannot miss)."""
    config.write_text(config.read_text().replace("timeout: 300ms", "timeout: 10s"))
    due_now(db)
    notifier(db, config).run_until_idle()


def test_a_server_that_stops_answering_times_out_and_the_mail_goes_later(db, smtp, config):
    add_subscribers(db, ["bob@example.org"])
    stall_once(smtp, config, taken=False)
    incident(db)
    worker = notifier(db, config)
    started = utcnow()
    worker.run_until_idle()

    (row,) = db.outbox.rows()
    assert row.state == "pending" and "TimeoutError" in row.last_error
    assert (utcnow() - started).total_seconds() < 1.5  # gave up after the timeout

    answer_again(db, config)
    assert states(db) == {"sent": 1}, db.outbox.rows()[0].last_error


def test_a_message_whose_answer_never_came_goes_again_with_the_same_message_id(db, smtp, config):
    add_subscribers(db, ["bob@example.org"])
    stall_once(smtp, config, taken=True)  # the server has it, but its 250 comes too late
    incident(db)
    notifier(db, config).run_until_idle()
    (row,) = db.outbox.rows()
    assert row.state == "pending" and "TimeoutError" in row.last_error
    assert smtp.mailbox.count() == 1  # delivered, as far as the reader can tell

    answer_again(db, config)
    assert states(db) == {"sent": 1}
    # Sent twice (nobody can know the first arrived), but as the same message: a mail
    # client shows one, and a server that dedups by Message-ID keeps one.
    (first, again) = smtp.mailbox.message_ids()
    assert first == again == ("bob@example.org", first[1]) and first[1]


def test_by_default_it_keeps_trying_for_a_day(db, smtp, config):
    add_subscribers(db, ["bob@example.org"])
    smtp.mailbox.refuse["bob@example.org"] = "421 4.3.2 busy"
    incident(db)
    worker = notifier(db, config)
    worker.run_until_idle()
    for hours, state in [(23, "pending"), (25, "failed")]:
        with db.engine.begin() as conn:
            conn.execute(sa.update(t.outbox).values(created_at=utcnow() - timedelta(hours=hours)))
        due_now(db)
        worker.run_until_idle()
        (row,) = db.outbox.rows()
        assert row.state == state, hours
