"""SMTP connections for the email channel: a pool of sessions, each reused for many
mail transactions, pipelined where the server allows it (RFC 2920).

aiosmtplib sets each session up (connect, implicit TLS or STARTTLS, EHLO, AUTH); then
:class:`_Replies` takes the connection over from aiosmtplib's protocol, which reads one
reply per command and drops whatever arrives beyond it. A mail transaction is sent one
of two ways:

- **pipelined** (the server announces ``PIPELINING``): ``MAIL``, ``RCPT`` and ``DATA``
  in one write, their three replies read together, then the message: two round trips
  instead of four, and one where a next message is in line (its commands go out with
  this one's content, see :class:`SmtpPool`);
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
    messages, then replaced; a connection that failed is replaced on its next use.

    More senders than connections may call :meth:`send`: the rest wait in line, and
    where the server pipelines, a connection about to send a message takes the next
    one in line along: that message's commands go out in the same write as this
    message's content (RFC 2920 allows the content first in a group), and once this
    message's reply is in, the connection is handed to the sender of that one. A
    message then costs one round trip instead of two."""

    def __init__(self, smtp: Smtp, size: int) -> None:
        self.smtp = smtp
        self.idle: list[_Connection] | None = None
        self.waiting: deque[_Mail] = deque()  # senders in line for a connection
        self.size = size

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """``message``: CRLF line ends; ``sender`` and ``recipient`` checked addresses."""
        if self.idle is None:  # made on the event loop that uses it
            self.idle = [_Connection(self.smtp) for _ in range(self.size)]
        mail = _Mail(sender, recipient, message)
        if self.idle:
            connection = self.idle.pop()
        else:
            connection = await self._wait(mail)
        connection.owner = mail
        try:
            await connection.send(mail, self)
        finally:
            if connection.owner is mail:  # not handed to the next in line
                self.release(connection)

    async def _wait(self, mail: _Mail) -> _Connection:
        mail.waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(mail)
        try:
            return await mail.waiter
        except asyncio.CancelledError:
            if mail.waiter.done() and not mail.waiter.cancelled():  # handed one, too late
                connection = mail.waiter.result()
                if mail.started:  # its commands went out: that session is unusable
                    connection.abort()
                self.release(connection)
            raise

    def release(self, connection: _Connection) -> None:
        """``connection`` is free: to the first sender in line, else idle."""
        mail = self.next_in_line()
        if mail is None or not self.hand_over(connection, mail):
            self.idle.append(connection)

    def next_in_line(self) -> _Mail | None:
        """The first sender in line that is still there, taken out of the line."""
        while self.waiting:
            mail = self.waiting.popleft()
            if not mail.waiter.done():
                return mail
        return None

    def put_back(self, mail: _Mail) -> None:
        """``mail``, taken out of the line but not sent, is first in line again."""
        mail.started = False
        self.waiting.appendleft(mail)

    def hand_over(self, connection: _Connection, mail: _Mail) -> bool:
        """Give ``connection`` to ``mail``'s sender (``mail.started``: with its commands
        sent); False if that sender is gone."""
        if mail.waiter.done():
            return False
        connection.owner = mail
        mail.waiter.set_result(connection)
        return True

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop().close()


class _Mail:
    """One message on its way: envelope and content as the connection sends them
    (``commands``, ``data``), and whether its commands went out with another's content."""

    __slots__ = ("commands", "data", "message", "recipient", "sender", "started", "waiter")

    def __init__(self, sender: str, recipient: str, message: bytes) -> None:
        self.sender = sender
        self.recipient = recipient
        self.message = message
        self.commands: tuple = ()
        self.data = b""
        self.waiter: asyncio.Future | None = None
        self.started = False


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
        self.owner: _Mail | None = None  # whose transaction the session is in

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

    async def send(self, mail: _Mail, pool: SmtpPool) -> None:
        try:
            if not mail.started and (
                self.client is None or self.sent >= self.smtp.messages_per_connection
            ):
                await self.close()
                self.client = await self._open()
            async with asyncio.timeout(self.smtp.timeout):
                end = await self._transaction(mail, pool)
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
        if end.code != 250:  # the message refused; the transaction is over, the session not
            raise DeliveryError(f"{end.code} {end.message}", permanent=500 <= end.code < 600)

    async def _transaction(self, mail: _Mail, pool: SmtpPool) -> SMTPResponse:
        """One mail transaction (RFC 5321 3.3: MAIL, RCPT, DATA, the content), up to the
        reply to its content, which it returns (the session may be another's by then).
        The caller's one timeout covers it all: aiosmtplib's own, one per reply, cost as
        much as reading the replies."""
        if mail.started:  # sent with the previous message's content
            got = [await self.replies.read() for _ in mail.commands]
        else:
            self._envelope(mail)
            got = await self._commands(mail.commands)
        answers = list(zip(mail.commands, got, strict=False))  # got stops at a refusal
        refused = any(reply.code not in wanted for (_, wanted), reply in answers[:-1])
        if refused and got[-1].code == 354:  # DATA taken after all: end an empty message
            self.replies.write(b".\r\n")
            await self.replies.read()
        for (command, wanted), reply in answers:
            _check(command, reply, wanted)
        return await self._content(mail, pool)

    def _envelope(self, mail: _Mail) -> None:
        """``mail``'s commands and content as this session sends them, addressed by hand
        rather than with aiosmtplib's ``sendmail``: that one parses both addresses three
        times and scans the message twice for line ends and dots, which costs as much as
        the exchange itself."""
        client = self.client
        sender, recipient, message = mail.sender, mail.recipient, mail.message
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
        mail_from = b"MAIL FROM:<%s>%s" % (sender.encode(), options)
        rcpt = b"RCPT TO:<%s>" % recipient.encode()
        if any(c in mail_from + rcpt for c in (b"\r", b"\n")):  # would add a command
            raise DeliveryError(f"not a deliverable address: {recipient!r}", permanent=True)
        mail.commands = ((mail_from, (250,)), (rcpt, (250, 251)), (b"DATA", (354,)))
        mail.data = message + b".\r\n"

    async def _content(self, mail: _Mail, pool: SmtpPool) -> SMTPResponse:
        """Send ``mail``'s content and read the reply to it. Where the server pipelines,
        the next message in line goes along (its commands in the same write), and once
        the reply is in, the session is handed to that message's sender."""
        follower = self._follower(pool)
        tail = b"".join(command + b"\r\n" for command, _ in follower.commands) if follower else b""
        self.replies.write(mail.data + tail)
        try:
            end = await self.replies.read()
        except BaseException:
            if follower is not None:  # its commands went out on a broken session
                pool.put_back(follower)  # to go out on another
                self.abort()
            raise
        self.sent += 1
        if follower is not None and not pool.hand_over(self, follower):
            self.abort()  # its sender is gone, its transaction half-way: end the session
        return end

    def _follower(self, pool: SmtpPool) -> _Mail | None:
        """The next message in line, made ready to go with this one's content; None
        where the server does not pipeline or this session has sent its share."""
        if not self.pipelining or self.sent + 2 > self.smtp.messages_per_connection:
            return None
        follower = pool.next_in_line()
        if follower is None:
            return None
        try:
            self._envelope(follower)
        except DeliveryError:
            pool.put_back(follower)  # it learns why on a connection of its own
            return None
        follower.started = True
        return follower

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
        if self.client is None:
            return
        try:
            async with asyncio.timeout(self.smtp.timeout):
                self.replies.write(b"QUIT\r\n")
                await self.replies.read()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        self.abort()

    def abort(self) -> None:
        """End the session at once, without a word to the server."""
        client, self.client, self.replies = self.client, None, None
        if client is not None:
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
