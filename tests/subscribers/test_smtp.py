"""SMTP sessions: pipelining (RFC 2920) against a scripted relay on loopback that answers
only once a whole command group is in; STARTTLS, implicit TLS and AUTH against aiosmtpd."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from status.config import Smtp
from subscribers.base import DeliveryError
from subscribers.smtp import SmtpPool, _Replies
from tests.probes.servers import make_cert, server_context
from tests.subscribers.support import Mailbox, free_port

SENDER, RECIPIENT = "status@example.org", "alice@example.org"
MESSAGE = b"Subject: hi\r\nTo: alice@example.org\r\n\r\nhello\r\n"


def settings(port: int, **more) -> Smtp:
    return Smtp.model_validate(
        {"host": "127.0.0.1", "port": port, "starttls": False, "from": SENDER, "timeout": "2s"}
        | more
    )


async def strict_server(
    replies: dict[bytes, bytes],
    log: list[bytes],
    *,
    ends: tuple[bytes, ...] = (),
    sessions: list[int] | None = None,
    early: list[bool] | None = None,
):
    """A relay announcing PIPELINING that answers a transaction's commands only when
    MAIL, RCPT and DATA have all arrived (a client waiting after MAIL hangs). ``ends``:
    its replies to the first messages' content (``drop``: it hangs up instead);
    ``sessions`` counts the sessions; ``early`` notes for each message whether the next
    command arrived before the reply to its content (then the relay waits 0.1 s for it)."""
    ends_left = list(ends)

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if sessions is not None:
            sessions.append(len(sessions) + 1)
        writer.write(b"220 strict ESMTP\r\n")
        await reader.readline()  # EHLO
        writer.write(b"250-strict\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n")
        line = await reader.readline()
        while line:
            if line.startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                break
            if line.startswith(b"RSET"):
                log.append(b"RSET")
                writer.write(b"250 reset\r\n")
                line = await reader.readline()
                continue
            group = [line, await reader.readline(), await reader.readline()]
            log.append(b"".join(group))
            answers = [replies.get(g.split(b":")[0].strip(), b"250 ok") for g in group[:2]]
            answers.append(replies.get(b"DATA", b"354 go ahead"))
            writer.write(b"\r\n".join(answers) + b"\r\n")  # three replies in one segment
            line = None
            if answers[2].startswith(b"354"):
                log.append(await reader.readuntil(b"\r\n.\r\n"))
                end = ends_left.pop(0) if ends_left else replies.get(b".", b"250 queued")
                if end == b"drop":
                    break
                if early is not None:
                    with contextlib.suppress(TimeoutError):
                        line = await asyncio.wait_for(reader.readline(), 0.1)
                    early.append(line is not None)
                writer.write(end + b"\r\n")
            if line is None:
                line = await reader.readline()
        await writer.drain()
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


@contextlib.asynccontextmanager
async def one_connection(log: list[bytes], replies: dict | None = None, **server):
    """A pool of one connection to a :func:`strict_server` (closed after)."""
    relay = await strict_server(replies or {}, log, **server)
    pool = SmtpPool(settings(relay.sockets[0].getsockname()[1]), 1)
    try:
        yield pool
    finally:
        await pool.close()
        relay.close()


def deliver(replies: dict[bytes, bytes], count: int = 1) -> tuple[list, list[bytes]]:
    """Send ``count`` messages over one pipelining session; (errors, what the server read)."""
    log: list[bytes] = []

    async def run() -> list:
        errors = []
        async with one_connection(log, replies) as pool:
            for _ in range(count):
                try:
                    await pool.send(SENDER, RECIPIENT, MESSAGE)
                except DeliveryError as exc:
                    errors.append(exc)
        return errors

    return asyncio.run(run()), log


def deliver_together(count: int, **server) -> tuple[list, list[bytes]]:
    """``count`` senders at once, one message each (to r0@, r1@, ...), over one
    connection; (each sender's error or None, what the server read)."""
    log: list[bytes] = []

    async def one(pool: SmtpPool, n: int) -> DeliveryError | None:
        try:
            await pool.send(SENDER, f"r{n}@example.org", MESSAGE)
        except DeliveryError as exc:
            return exc
        return None

    async def run() -> list:
        async with one_connection(log, **server) as pool:
            return await asyncio.gather(*(one(pool, n) for n in range(count)))

    return asyncio.run(asyncio.wait_for(run(), 10)), log  # a sender left waiting fails


def delivered(log: list[bytes]) -> list[bytes]:
    """The recipients of the transactions whose content the server read, in order."""
    return [
        group.split(b"RCPT TO:<")[1].split(b">")[0]
        for group, content in zip(log[0::2], log[1::2], strict=False)
        if group.startswith(b"MAIL") and content.endswith(b"\r\n.\r\n")
    ]


def test_a_relay_that_pipelines_gets_each_transaction_in_two_round_trips():
    errors, log = deliver({}, count=3)
    assert errors == []
    groups = log[0::2]
    assert len(groups) == 3
    assert groups[0] == (
        b"MAIL FROM:<status@example.org> SIZE=%d\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
        % (len(MESSAGE) + 3)
    )
    assert log[1] == MESSAGE + b".\r\n"


def test_senders_in_line_each_get_their_message_out_with_the_one_before():
    """One round trip a message: the next message's commands go out with this one's
    content, before the relay has answered it."""
    sessions, early = [], []
    errors, log = deliver_together(4, sessions=sessions, early=early)
    assert errors == [None] * 4
    assert delivered(log) == [b"r0@example.org", b"r1@example.org", b"r2@example.org",
                              b"r3@example.org"]  # fmt: skip
    assert early == [True, True, True, False]  # nothing came after the last
    assert sessions == [1]


def test_a_message_refused_at_its_end_leaves_the_next_one_on_the_same_session():
    sessions = []
    errors, log = deliver_together(2, ends=(b"552 5.3.4 too big",), sessions=sessions)
    assert errors[0].permanent and "552" in str(errors[0])
    assert errors[1] is None
    assert sessions == [1] and b"RSET" not in log  # the transaction was over, not the session


def test_a_session_lost_after_a_message_takes_the_next_one_to_a_new_session():
    """The first message's fate is unknown (tried again later); the one whose commands
    went out with it is sent again, in full, on a new session: neither is lost."""
    sessions = []
    errors, log = deliver_together(3, ends=(b"drop",), sessions=sessions)
    assert not errors[0].permanent
    assert errors[1:] == [None, None]
    assert delivered(log) == [b"r0@example.org", b"r1@example.org", b"r2@example.org"]
    assert sessions == [1, 2]


def test_a_sender_that_gives_up_in_line_leaves_the_pool_whole():
    log: list[bytes] = []

    async def run() -> None:
        async with one_connection(log) as pool:
            first = asyncio.create_task(pool.send(SENDER, "r0@example.org", MESSAGE))
            waiting = asyncio.create_task(pool.send(SENDER, "gone@example.org", MESSAGE))
            await asyncio.sleep(0)  # both started: the second waits in line
            waiting.cancel()
            await first
            for n in (1, 2):
                await pool.send(SENDER, f"r{n}@example.org", MESSAGE)
            assert len(pool.idle) == 1 and not pool.waiting

    asyncio.run(run())
    assert delivered(log) == [b"r0@example.org", b"r1@example.org", b"r2@example.org"]


@pytest.mark.parametrize(
    ("replies", "permanent", "reset"),
    [
        ({b"RCPT TO": b"550 5.1.1 no such user", b"DATA": b"554 no valid recipients"}, True, True),
        ({b"RCPT TO": b"451 4.7.1 later", b"DATA": b"554 no valid recipients"}, False, True),
        ({b".": b"552 5.3.4 too big"}, True, False),
        ({b"MAIL FROM": b"421 4.3.2 busy", b"DATA": b"503 bad sequence"}, False, False),
    ],
    ids=["recipient-5xx", "recipient-4xx", "message-5xx", "sender-4xx"],
)
def test_a_refusal_in_a_pipelined_group_is_read_by_its_reply(replies, permanent, reset):
    errors, log = deliver(replies)
    (error,) = errors
    assert error.permanent is permanent
    code = next(iter(replies.values()))[:3].decode()
    assert code in str(error)
    # A refused recipient leaves the session good (RSET, then on); anything else ends it.
    assert (b"RSET" in log) is reset


def test_replies_split_anywhere_arrive_whole_and_in_order():
    replies = _Replies(asyncio.Protocol())
    pieces = (b"25", b"0-first\r\n250 sec", b"ond\r\n354 go", b" ahead\n", b"221")  # a bare LF too
    for piece in pieces:
        replies.data_received(piece)
    assert [(r.code, r.message) for r in replies.replies] == [
        (250, "first\nsecond"),
        (354, "go ahead"),
    ]
    assert replies.buffer == b"221"  # the rest of a reply still to come


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-at-a-time"])
@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_an_encrypted_session_with_a_login_carries_many_messages(
    tmp_path, monkeypatch, mode, pipelining
):
    cert = make_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.ca_file))  # the relay's CA, trusted
    mailbox, logins = Mailbox(pipelining), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        logins.append((auth_data.login, auth_data.password, encrypted))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    tls = {"tls_context": server_context(cert), "require_starttls": True}
    if mode == "tls":  # (aiosmtpd's auth_require_tls knows only STARTTLS)
        tls = {"ssl_context": server_context(cert), "auth_require_tls": False}
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, **tls
    )
    controller.start()
    smtp = settings(
        controller.port, starttls=mode == "starttls", tls=mode == "tls", username="notifier"
    )

    async def send(password: str, count: int) -> None:
        pool = SmtpPool(smtp.model_copy(update={"password": password}), 1)
        try:
            for n in range(count):
                await pool.send(SENDER, f"s{n}@example.org", MESSAGE)
        finally:
            await pool.close()

    try:
        asyncio.run(send("s3cret", 3))
        with pytest.raises(DeliveryError) as refused:
            asyncio.run(send("wrong", 1))
    finally:
        controller.stop()
    assert [rcpt for rcpt, _, _ in mailbox.messages] == ["s0@example.org", "s1@example.org",
                                                         "s2@example.org"]  # fmt: skip
    assert logins[0] == (b"notifier", b"s3cret", True)  # one login for 3, inside TLS
    assert logins[1][1] == b"wrong" and len(mailbox.messages) == 3
    assert not refused.value.permanent  # the password is ours to fix: kept for later


def test_an_address_with_a_line_break_never_reaches_the_server():
    log: list[bytes] = []

    async def run() -> DeliveryError:
        async with one_connection(log) as pool:
            with pytest.raises(DeliveryError) as refused:
                await pool.send(SENDER, "a@example.org>\r\nRCPT TO:<b@example.org", MESSAGE)
            await pool.send(SENDER, RECIPIENT, MESSAGE)  # the session goes on
        return refused.value

    assert asyncio.run(run()).permanent
    (group,) = [entry for entry in log if entry.startswith(b"MAIL")]  # alice's alone
    assert b"alice@example.org" in group
    assert b"b@example.org" not in b"".join(log)
