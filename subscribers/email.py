"""Email over SMTP: messages rendered once per event and language, sent through a pool
of reused connections (:mod:`subscribers.smtp`).

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

import base64
import logging
import re
import secrets
from collections import OrderedDict
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from functools import cache
from html import escape
from pathlib import Path

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from status import i18n, links
from status.clock import utcnow
from status.config import Smtp
from subscribers.base import Channel, Delivery, DeliveryError
from subscribers.content import Notice
from subscribers.smtp import SmtpPool

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "emails"
MANAGE, UNSUBSCRIBE = "@@leitstand-manage-url@@", "@@leitstand-unsubscribe-url@@"
CONFIRM = "@@leitstand-confirm-url@@"
UNSAFE = re.compile(r'[\x00-\x1f\x7f<>,;" ]')  # could break out of a header or envelope


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
    if not address or UNSAFE.search(address):
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
