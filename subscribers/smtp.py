"""SMTP connections for the email channel: a pool of sessions, each reused for many
mail transactions, pipelined where the server allows it (RFC 2920).

aiosmtplib sets each session up (connect, implicit TLS or STARTTLS, EHLO, AUTH); then
:class:`_Replies` takes the connection over from aiosmtplib's protocol, which reads one
reply per command and drops whatever arrives beyond it. A mail transaction is sent one
of two ways:

- **pipelined** (the server announces ``PIPELINING``): ``MAIL``, ``RCPT`` and ``DATA``
  in one write, their three replies read together, then the message: two round trips
  instead of four;
- **one command at a time** (any other server), stopping at the first refusal.

Either way one timeout (``smtp.timeout``) covers the whole transaction, and a refused
recipient is a :class:`DeliveryError` (permanent for a 5xx) while the session goes on;
anything else wrong with the session is the server's trouble, never the recipient's: a
temporary error, and the connection starts afresh.
"""

from __future__ import annotations

import asyncio
from collections import deque

import aiosmtplib
from aiosmtplib import SMTPResponse

from status.config import Smtp
from subscribers.base import DeliveryError

MAX_REPLY = 64 * 1024  # bytes of replies buffered at most: a server sending more is broken


class SmtpPool:
    """``size`` SMTP connections, each reused for up to ``messages_per_connection``
    messages, then replaced; a connection that failed is replaced on its next use."""

    def __init__(self, smtp: Smtp, size: int) -> None:
        self.smtp = smtp
        self.idle: asyncio.LifoQueue[_Connection] | None = None
        self.size = size

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """``message``: CRLF line ends; ``sender`` and ``recipient`` checked addresses."""
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


class _Replies(asyncio.Protocol):
    """A session's replies, parsed as they arrive, any number per read (what pipelining
    needs); it stands in for aiosmtplib's protocol on the session's transport."""

    def __init__(self, previous: asyncio.BaseProtocol) -> None:
        self.previous = previous  # aiosmtplib's: told when the connection ends
        self.buffer = bytearray()
        self.replies: deque[SMTPResponse] = deque()
        self.waiter: asyncio.Future | None = None
        self.lost: Exception | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0 and not self.lost:
            lines, start = [], 0
            while end >= 0 and self.buffer[start + 3 : start + 4] == b"-":  # continued
                lines.append(bytes(self.buffer[start + 4 : end]).rstrip(b"\r"))
                start = end + 1
                end = self.buffer.find(b"\n", start)
            if end < 0:
                break  # the rest of a multi-line reply is still to come
            lines.append(bytes(self.buffer[start + 4 : end]).rstrip(b"\r"))
            code = self.buffer[start : start + 3]
            del self.buffer[: end + 1]
            if not code.isdigit():
                self._fail(aiosmtplib.SMTPResponseException(-1, "malformed reply"))
                break
            text = b"\n".join(lines).decode("utf-8", "surrogateescape")
            self.replies.append(SMTPResponse(int(code), text))
        if len(self.buffer) > MAX_REPLY:
            self._fail(aiosmtplib.SMTPResponseException(-1, "reply too long"))
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = aiosmtplib.SMTPServerDisconnected("connection lost")
        self._wake()
        self.previous.connection_lost(exc)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def _fail(self, exc: Exception) -> None:
        self.lost = exc
        self.transport.close()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    async def read(self) -> SMTPResponse:
        """The next reply; raises once the connection is lost or the server is broken."""
        while not self.replies:
            if self.lost is not None:
                raise self.lost
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.replies.popleft()

    def write(self, data: bytes) -> None:
        if self.lost is not None or self.transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("connection lost")
        self.transport.write(data)


class _Connection:
    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp
        self.client: aiosmtplib.SMTP | None = None
        self.replies: _Replies | None = None  # the open session's
        self.pipelining = False
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
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        self.replies = _Replies(client.protocol)
        self.replies.connection_made(client.transport)
        client.transport.set_protocol(self.replies)
        self.pipelining = client.supports_extension("pipelining")
        self.sent = 0
        return client

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            if self.client is None or self.sent >= self.smtp.messages_per_connection:
                await self.close()
                self.client = await self._open()
            async with asyncio.timeout(self.smtp.timeout):
                await self._transaction(sender, recipient, message)
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

    async def _transaction(self, sender: str, recipient: str, message: bytes) -> None:
        """One mail transaction (RFC 5321 3.3: MAIL, RCPT, DATA), addressed by hand rather
        than with aiosmtplib's ``sendmail``: that one parses both addresses three times and
        scans the message twice for line ends and dots, which costs as much as the
        exchange itself. The caller's one timeout covers it all: aiosmtplib's own, one per
        reply, cost as much as reading the replies."""
        client = self.client
        utf8 = not (sender + recipient).isascii()
        if utf8 and not client.supports_extension("smtputf8"):
            raise DeliveryError(
                f"the server takes no non-ASCII address: {recipient}", permanent=True
            )
        options = b" SMTPUTF8" if utf8 else b""
        if not message.endswith(b"\r\n"):
            message += b"\r\n"
        if b"\r\n." in message or message.startswith(b"."):  # RFC 5321 4.5.2
            message = b"." * message.startswith(b".") + message.replace(b"\r\n.", b"\r\n..")
        if client.supports_extension("size"):
            options += b" SIZE=%d" % (len(message) + 3)  # with the final ".\r\n"
        mail = b"MAIL FROM:<%s>%s" % (sender.encode(), options)
        rcpt = b"RCPT TO:<%s>" % recipient.encode()
        if any(c in mail + rcpt for c in (b"\r", b"\n")):  # would add a command
            raise DeliveryError(f"not a deliverable address: {recipient!r}", permanent=True)
        commands = ((mail, (250,)), (rcpt, (250, 251)), (b"DATA", (354,)))
        got = await self._commands(commands)
        answers = list(zip(commands, got, strict=False))  # got stops at a refusal
        refused = any(reply.code not in wanted for (_, wanted), reply in answers[:-1])
        if refused and got[-1].code == 354:  # DATA taken after all: end an empty message
            self.replies.write(b".\r\n")
            await self.replies.read()
        for (command, wanted), reply in answers:
            _check(command, reply, wanted)
        self.replies.write(message + b".\r\n")
        _check(b".", await self.replies.read(), (250,))

    async def _commands(self, commands) -> list[SMTPResponse]:
        """Send ``commands`` (each with the replies it wants): all in one write where the
        server pipelines, else each after the last one's reply, stopping at a refusal.
        Their replies, in order."""
        replies = self.replies
        if self.pipelining:
            replies.write(b"".join(command + b"\r\n" for command, _ in commands))
            return [await replies.read() for _ in commands]
        got = []
        for command, wanted in commands:
            replies.write(command + b"\r\n")
            got.append(await replies.read())
            if got[-1].code not in wanted:
                break
        return got

    async def _reset(self) -> None:
        try:
            async with asyncio.timeout(self.smtp.timeout):
                self.replies.write(b"RSET\r\n")
                _check(b"RSET", await self.replies.read(), (250,))
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            await self.close()

    async def close(self) -> None:
        client, self.client = self.client, None
        replies, self.replies = self.replies, None
        if client is None:
            return
        try:
            async with asyncio.timeout(self.smtp.timeout):
                replies.write(b"QUIT\r\n")
                await replies.read()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        client.close()


def _check(command: bytes, reply: SMTPResponse, wanted: tuple[int, ...]) -> None:
    """Raise what a reply other than ``wanted`` means: a refused recipient is a
    :class:`DeliveryError` (the session goes on); a refused sender or message is the
    server's answer to the whole transaction."""
    if reply.code in wanted:
        return
    if command.startswith(b"RCPT"):
        raise DeliveryError(f"{reply.code} {reply.message}", permanent=500 <= reply.code < 600)
    if command.startswith(b"MAIL"):
        sender = command.partition(b"<")[2].partition(b">")[0].decode("utf-8", "replace")
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
    if command in (b"DATA", b"."):
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    raise aiosmtplib.SMTPResponseException(reply.code, reply.message)
