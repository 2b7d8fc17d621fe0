"""Email over SMTP (aiosmtplib): messages rendered once per event and language, sent
through a pool of reused connections.

Rendering a message with ``EmailMessage`` costs more than sending it, so each event's
message is built once per language (:class:`Prepared`): the headers every recipient
shares serialized by the ``email`` package (folding, RFC 2047 for non-ASCII, no CR/LF),
both bodies rendered from ``templates/emails/`` with placeholders for the recipient's
links. Per recipient only ``To``, ``Message-ID``, ``List-Unsubscribe`` and the links are
filled in, and the two bodies base64-encoded (C code, microseconds).

``Message-ID`` comes from the outbox row (``<outbox.ROW.EVENT@site-domain>``), so a
resend of a row carries the one a receiver may already have seen.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from collections import OrderedDict
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from functools import cache
from html import escape
from pathlib import Path

import aiosmtplib
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from status import i18n, links
from status.clock import utcnow
from status.config import Smtp
from subscribers.base import Channel, Delivery, DeliveryError
from subscribers.content import Notice

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "emails"
MANAGE, UNSUBSCRIBE = "@@leitstand-manage-url@@", "@@leitstand-unsubscribe-url@@"
CONFIRM = "@@leitstand-confirm-url@@"
CONTROL = frozenset(chr(c) for c in range(32)) | {"\x7f"}


@cache
def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(
        Translations.load(str(i18n.TRANSLATIONS), [language]), newstyle=True
    )
    return env


def warm_templates(language: str) -> None:
    """Compile the email templates for ``language`` (they are cached per process)."""
    env = _environment(language)
    for name in TEMPLATES.iterdir():
        env.get_template(name.name)


class Prepared:
    """One event's message in one language, ready for any number of recipients."""

    def __init__(self, notice: Notice, sender: str) -> None:
        env = _environment(notice.language)
        links_ = {"manage_url": MANAGE, "unsubscribe_url": UNSUBSCRIBE, "confirm_url": CONFIRM}
        self.text = env.get_template(f"{notice.template}.txt").render(notice=notice, **links_)
        self.html = env.get_template(f"{notice.template}.html").render(notice=notice, **links_)
        self.domain = notice.domain
        self.event_id = notice.event_id
        self.boundary = f"=_leitstand_{secrets.token_hex(12)}"
        head = EmailMessage(policy=SMTP_POLICY)
        head["From"] = sender
        head["Subject"] = notice.subject
        head["Date"] = format_datetime(utcnow())
        head["MIME-Version"] = "1.0"
        head["Content-Language"] = notice.language
        head["Auto-Submitted"] = "auto-generated"
        head["List-Id"] = f"<notifications.{self.domain}>"
        self.head = bytes(head).split(b"\r\n\r\n", 1)[0] + b"\r\n"

    def message(
        self, delivery: Delivery, manage_url: str, unsubscribe_url: str, confirm_url: str = ""
    ) -> bytes:
        """The whole message for one recipient (CRLF line ends, ASCII only)."""
        text, html = self.text, self.html
        for placeholder, url in ((MANAGE, manage_url), (UNSUBSCRIBE, unsubscribe_url),
                                 (CONFIRM, confirm_url)):  # fmt: skip
            text, html = text.replace(placeholder, url), html.replace(placeholder, escape(url))
        b = self.boundary
        return b"".join(
            (
                self.head,
                f"To: {delivery.address}\r\n"
                f"Message-ID: {message_id(delivery, self.domain)}\r\n"
                f"List-Unsubscribe: <{unsubscribe_url}>\r\n"
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
                f"--{b}\r\n".encode(),
                _part("text/plain", text),
                f"--{b}\r\n".encode(),
                _part("text/html", html),
                f"--{b}--\r\n".encode(),
            )
        )


def _part(content_type: str, body: str) -> bytes:
    encoded = base64.b64encode(body.encode())  # one C call, then lines of 76 (RFC 2045)
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return (
        (
            f'Content-Type: {content_type}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + b"\r\n".join(lines)
        + b"\r\n"
    )


def message_id(delivery: Delivery, domain: str) -> str:
    """Stable per outbox row: a resend reuses it."""
    return f"<outbox.{delivery.outbox_id}.{delivery.event_id}@{domain}>"


def check_address(address: str) -> str:
    """The address as it may stand in a header and an envelope; a permanent error for
    one that could break out of either (CR, LF, other controls, angle brackets)."""
    if not address or any(c in CONTROL for c in address) or set(address) & set('<>,;" '):
        raise DeliveryError("not a deliverable address", permanent=True)
    return address


class EmailChannel(Channel):
    """Email through ``smtp`` (config), ``connections`` at a time."""

    name = "email"

    def __init__(self, smtp: Smtp, secret: str, *, connections: int | None = None) -> None:
        self.smtp = smtp
        self.secret = secret
        self.sender = smtp.sender
        self.envelope_from = parseaddr(smtp.sender)[1] or smtp.sender
        self.pool = SmtpPool(smtp, connections or smtp.connections)
        self._prepared: OrderedDict[tuple[int, str], Prepared] = OrderedDict()

    def prepared(self, notice: Notice) -> Prepared:
        """The event's message in the notice's language, rendered once (a few kept)."""
        key = (notice.event_id, notice.language)
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = Prepared(notice, self.sender)
            while len(self._prepared) > 32:
                self._prepared.popitem(last=False)
        return found

    def render(self, delivery: Delivery) -> bytes:
        check_address(delivery.address)
        site = delivery.notice.site_url
        subject = (self.secret, delivery.subscriber_id, delivery.token_version)
        manage = links.url(site, links.MANAGE, links.manage_token(*subject))
        unsubscribe = links.url(site, links.UNSUBSCRIBE, links.unsubscribe_token(*subject))
        confirm = ""
        if delivery.notice.template == "confirm":
            confirm = links.url(site, links.CONFIRM, links.confirm_token(*subject))
        return self.prepared(delivery.notice).message(delivery, manage, unsubscribe, confirm)

    async def notify(self, delivery: Delivery) -> None:
        message = self.render(delivery)
        await self.pool.send(self.envelope_from, delivery.address, message)

    async def close(self) -> None:
        await self.pool.close()


class SmtpPool:
    """``size`` SMTP connections, each reused for up to ``messages_per_connection``
    messages, then replaced; a connection that failed is replaced on its next use."""

    def __init__(self, smtp: Smtp, size: int) -> None:
        self.smtp = smtp
        self.idle: asyncio.LifoQueue[_Connection] | None = None
        self.size = size

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        if self.idle is None:  # made on the event loop that uses it
            self.idle = asyncio.LifoQueue()
            for _ in range(self.size):
                self.idle.put_nowait(_Connection(self.smtp))
        connection = await self.idle.get()
        try:
            await connection.send(sender, recipient, message)
        finally:
            self.idle.put_nowait(connection)

    async def close(self) -> None:
        while self.idle is not None and not self.idle.empty():
            await self.idle.get_nowait().close()


class _Connection:
    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp
        self.client: aiosmtplib.SMTP | None = None
        self.sent = 0

    async def _open(self) -> aiosmtplib.SMTP:
        s = self.smtp
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.tls,
            start_tls=s.starttls,
            username=s.username,
            password=s.password,
            timeout=s.timeout,
        )
        await client.connect()
        self.sent = 0
        return client

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            if self.client is None or self.sent >= self.smtp.messages_per_connection:
                await self.close()
                self.client = await self._open()
            async with asyncio.timeout(self.smtp.timeout):
                await self._transaction(self.client, sender, recipient, message)
            self.sent += 1
        except DeliveryError:
            # The session is still good: only this recipient was refused.
            await self._reset()
            raise
        except aiosmtplib.SMTPDataError as exc:
            await self.close()
            permanent = 500 <= exc.code < 600
            raise DeliveryError(f"{exc.code} {exc.message}", permanent=permanent) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # The server's own trouble, or ours with it (connect, auth, sender): never the
            # recipient's fault, so temporary; the connection starts afresh.
            await self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None

    @staticmethod
    async def _transaction(
        client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes
    ) -> None:
        """One mail transaction (RFC 5321 3.3: MAIL, RCPT, DATA) on aiosmtplib's command
        layer rather than ``sendmail``: that one parses both addresses three times and
        scans the message twice for line ends and dots, which costs as much as the
        exchange itself. Here the addresses were checked once (:func:`check_address`) and
        :meth:`Prepared.message` builds CRLF lines none of which starts with a dot (a
        message that does anyway takes aiosmtplib's ``data``, which escapes it). The
        caller's one timeout covers the whole transaction: aiosmtplib's own, one per
        reply, cost as much as reading the replies."""
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        utf8 = not (sender + recipient).isascii()
        if utf8 and not client.supports_extension("smtputf8"):
            raise DeliveryError(
                f"the server takes no non-ASCII address: {recipient}", permanent=True
            )
        options = [b"SMTPUTF8"] if utf8 else []
        if client.supports_extension("size"):
            options.append(b"SIZE=%d" % (len(message) + 3))  # with the final ".\r\n"
        reply = await client.execute_command(
            b"MAIL", b"FROM:<%s>" % sender.encode(), *options, timeout=None
        )
        if reply.code != 250:
            raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
        reply = await client.execute_command(b"RCPT", b"TO:<%s>" % recipient.encode(), timeout=None)
        if reply.code not in (250, 251):
            raise DeliveryError(f"{reply.code} {reply.message}", permanent=500 <= reply.code < 600)
        if b"\n." in message or not message.endswith(b"\r\n"):
            await client.data(message, timeout=None)
            return
        reply = await client.execute_command(b"DATA", timeout=None)
        if reply.code != 354:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        client.protocol.write(message + b".\r\n")
        reply = await client.protocol.read_response(timeout=None)
        if reply.code != 250:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)

    async def _reset(self) -> None:
        try:
            await self.client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            await self.close()

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
