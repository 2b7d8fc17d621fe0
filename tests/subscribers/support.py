"""A real SMTP server on loopback (aiosmtpd), subscribers written straight into the
store, and a config pointing the notifier at the server."""

from __future__ import annotations

import email
import socket
import textwrap
import threading
import time
from contextlib import contextmanager
from email.policy import default as default_policy

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from status import schema as t
from status.clock import utcnow
from status.config import load_config
from status.links import first_version
from status.models import SubscriberState
from status.ops.actor import Actor
from status.ops.incidents import open_incident
from subscribers.notifier import Notifier
from tests.conftest import MINIMAL_CONFIG, SECRET

ALICE = Actor("user", "alice")


class Mailbox:
    """What the server accepted, and what it answers to chosen recipients."""

    def __init__(self, pipelining: bool = True) -> None:
        self.pipelining = pipelining  # announce PIPELINING (RFC 2920), as real relays do
        self.lock = threading.Lock()
        self.messages: list[tuple[str, email.message.EmailMessage, bytes]] = []
        self.refuse: dict[str, str] = {}  # address -> reply, e.g. "550 no such user"
        self.refuse_data: dict[str, str] = {}  # address -> reply to its message's DATA
        self.refuse_sender: str | None = None  # the reply to every MAIL FROM
        self.sessions = 0  # how many SMTP sessions were opened (each says EHLO once)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        if self.pipelining:  # aiosmtpd reads pipelined commands as they come
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.refuse_data:
                return self.refuse_data[rcpt]
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, parsed, envelope.content))
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpt, m, _ in self.messages if rcpt == address]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def message_ids(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(rcpt, m["Message-ID"]) for rcpt, m, _ in self.messages]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """Start, stop and start again on the same port (the mail server blinks)."""

    def __init__(self, port: int | None = None, pipelining: bool = True, **options) -> None:
        self.port = port or free_port()
        self.options = options  # aiosmtpd's SMTP options, e.g. enable_SMTPUTF8=True
        self.mailbox = Mailbox(pipelining)
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextmanager
def smtp_server(**options):
    server = SmtpServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def config_text(port: int, *, connections: int = 2, extra: str = "") -> str:
    return (
        MINIMAL_CONFIG
        + textwrap.dedent(
            f"""\
        smtp:
          host: 127.0.0.1
          port: {port}
          starttls: false
          from: "Test Status <status@test.example>"
          connections: {connections}
        notifications:
          retry_after: 50ms
          retry_max: 200ms
        """
        )
        + textwrap.dedent(extra)
    )


def write_config(path, port: int, **kw):
    path.write_text(config_text(port, **kw))
    return path


def notifier(store, config_path, **kw) -> Notifier:
    config = load_config(config_path)
    return Notifier(store, lambda: config, SECRET, poll=0.05, **kw)


def add_subscribers(store, emails, *, language="en", components=None, state=None) -> list[int]:
    """Subscribers as the subscribe flow leaves them once confirmed (one statement)."""
    now = utcnow()
    rows = [
        {
            "email": address,
            "state": state or SubscriberState.CONFIRMED.value,
            "language": language,
            "all_components": components is None,
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
            "token_version": first_version(),
        }
        for address in emails
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.insert(t.subscribers), rows)
        ids = (
            conn.execute(
                sa.select(t.subscribers.c.id).where(t.subscribers.c.email.in_(list(emails)))
            )
            .scalars()
            .all()
        )
        if components:
            conn.execute(
                sa.insert(t.subscriber_components),
                [{"subscriber_id": i, "component_id": c} for i in ids for c in components],
            )
    return sorted(ids)


def incident(store, name="Calls failing in EU", components=None, **kw) -> int:
    return open_incident(
        store,
        ALICE,
        name=name,
        status=kw.pop("status", "investigating"),
        impact=kw.pop("impact", "major"),
        body=kw.pop("body", "We are looking into failing calls."),
        components=components,
        **kw,
    )


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def subscriber_state(store, subscriber_id: int) -> str:
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(t.subscribers.c.state).where(t.subscribers.c.id == subscriber_id)
        ).scalar()
