"""The notifier: fans events out into the outbox and delivers its rows (``notify run``,
or a thread of the all-in-one process).

One loop on one asyncio event loop. Each step claims a chunk of due rows (the next chunk
is claimed, and new events are fanned out, in threads while this one is delivered) and
delivers it through :data:`PER_SESSION` workers per SMTP connection (``concurrency``),
each taking the next row as soon as it is done with one: no connection waits for the
others, and each has a message in line to go out with the one it is sending
(:class:`subscribers.smtp.SmtpPool`). Outcomes are written a batch at a time
(:data:`PER_CONNECTION` rows per connection) while the workers go on, so a notifier
killed at any moment leaves at most two batches and one message per worker sent but not
recorded: those rows are claimed again once their claim expires and sent a second time
(the in-flight window, docs/decisions.md).
Everything else is exactly once: a row is ``sent`` only after the server accepted it,
and never claimed twice while a claim holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import NamedTuple

from status import i18n
from status.clock import utcnow
from status.config import Config
from status.store import Store
from status.store.outbox import Outcome
from subscribers import content
from subscribers.base import Channel, Delivery, DeliveryError, RetryPolicy
from subscribers.email import EmailChannel, warm_templates
from subscribers.outbox import Claim, fan_out
from subscribers.webhook import WebhookChannel

log = logging.getLogger(__name__)

LEASE = 300.0  # seconds a claim holds: far longer than a batch takes to deliver
PER_CONNECTION = 16  # rows per connection whose outcome is written together (a batch)
PER_SESSION = 2  # deliveries under way per connection: one being sent, one ready to go
CLAIM_BATCHES = 4  # batches claimed at once: fewer, larger statements
SAFE_LEASE = 0.8  # of a claim's lease, the part in which its rows may be sent
FAN_OUT = 1000  # at most this many subscribers fanned out per step (claimed: one batch)
_UNSET = object()


class Chunk(NamedTuple):
    """Rows claimed together, and until when (monotonic) they may be sent."""

    rows: list
    deadline: float


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Notifier:
    """``concurrency``: connections (default ``smtp.connections``); ``batch``: rows per
    claim and at most per recorded batch (tests); ``lease``: how long a claim holds."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        secret: str,
        *,
        concurrency: int | None = None,
        lease: float = LEASE,
        poll: float = 0.25,
        batch: int | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.secret = secret
        self.concurrency = concurrency
        self.lease = lease
        self.poll = poll
        self.batch = batch
        self.worker = worker_name()
        self.channels: dict[str, Channel] = {}
        self._smtp: object = _UNSET
        self._notices: OrderedDict[tuple[int, str], content.Notice | None] = OrderedDict()
        self._recording: asyncio.Task | None = None
        self._fanning: asyncio.Task | None = None  # a fan-out under way
        self._next: asyncio.Task | None = None  # the next chunk, being claimed
        self._ready: deque[Chunk] = deque()  # chunks claimed by a fan-out, to send

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stopping: threading.Event) -> None:
        """Until ``stopping`` is set; the chunk in hand is finished and recorded first."""
        asyncio.run(self.serve(stopping))

    async def serve(self, stopping: threading.Event) -> None:
        log.info("notifier %s running", self.worker)
        await asyncio.to_thread(self._warm, self.config())
        try:
            while not stopping.is_set():
                if not await self.step():
                    await asyncio.to_thread(stopping.wait, self.poll)
        finally:
            await self._finish_in_hand()
            log.info("notifier %s stopped", self.worker)

    def run_until_idle(self, *, max_steps: int = 10_000) -> None:
        """Work until nothing is due, then stop (tests; a one-shot run)."""

        async def drain() -> None:
            try:
                for _ in range(max_steps):
                    if not await self.step():
                        break
            finally:
                await self._finish_in_hand()

        asyncio.run(drain())

    async def step(self) -> int:
        """One round: deliver a chunk of rows while, in threads, new events are fanned
        out and the next chunk is claimed (the database work overlaps the sending);
        returns how much was done (0: idle). A fan-out writes its rows claimed for this
        notifier: they are the next chunk, without a claim of their own."""
        config = self.config()
        await self._sync_channels(config)
        if self._fanning is not None and self._fanning.done():
            await self._fanned()  # its rows are ready: the next fan-out starts at once
        if self._fanning is None:
            self._fanning = asyncio.create_task(self._fan_out())
        if not self.channels:
            return await self._fanned()
        if self._ready:
            chunk = self._ready.popleft()
        else:
            size = self.batch or CLAIM_BATCHES * PER_CONNECTION * self._connections(config)
            claimed, self._next = self._next, None
            chunk = await (claimed or self._claim(size))
            if not chunk.rows:
                return await self._fanned()  # rows may come of it: wait, then look again
            if len(chunk.rows) == size:  # likely more: claim the next while this is sent
                self._next = asyncio.create_task(self._claim(size))
        await self._send(chunk, config)
        return len(chunk.rows)

    async def _fan_out(self) -> tuple[int, Chunk]:
        claim = Claim(self.worker, tuple(self.channels), self.lease)
        taken = time.monotonic()
        visited = await asyncio.to_thread(
            fan_out, self.store, self.secret, max_rows=FAN_OUT, claim=claim
        )
        return visited, self._chunk(claim.rows, taken)

    async def _claim(self, size: int) -> Chunk:
        taken = time.monotonic()
        rows = await asyncio.to_thread(
            self.store.outbox.claim,
            self.worker,
            list(self.channels),
            limit=size,
            lease=self.lease,
            now=utcnow(),
        )
        return self._chunk(rows, taken)

    def _chunk(self, rows, taken: float) -> Chunk:
        """``rows`` claimed at ``taken`` (monotonic), sendable for part of the lease."""
        return Chunk(rows, taken + self.lease * SAFE_LEASE)

    async def _fanned(self) -> int:
        """Wait for the fan-out under way, its rows ready to send; how many subscribers
        it visited."""
        task, self._fanning = self._fanning, None
        if task is None:
            return 0
        visited, chunk = await task
        if chunk.rows:
            self._ready.append(chunk)
        return visited

    async def _send(self, chunk: Chunk, config: Config) -> None:
        """Deliver claimed rows, ``concurrency`` at a time; outcomes are written a batch at
        a time while the delivery goes on. Rows whose claim is about to run out are given
        back untried (another notifier may take them once it has: never both)."""
        rows = chunk.rows
        wanted = {self._notice_key(row, config) for row in rows}
        notices = {key: self._notices[key] for key in wanted if key in self._notices}
        if len(notices) < len(wanted):  # a new event: read in a thread
            notices = await asyncio.to_thread(self._load_notices, wanted, config)
        outcome = Outcome()
        queue = deque(self._deliveries(rows, notices, config, outcome))
        policy = RetryPolicy(**config.notifications.model_dump())
        connections = self._connections(config)
        batch = min(PER_CONNECTION * connections, self.batch or PER_CONNECTION * connections)
        handing_over: asyncio.Event | None = None  # a full batch waits for the last write

        def current() -> Outcome:  # a delivery ends in the batch filling at that moment
            return outcome

        async def work() -> None:
            nonlocal outcome, handing_over
            while queue and time.monotonic() < chunk.deadline:
                while handing_over is not None and len(outcome) >= batch:
                    await handing_over.wait()  # the in-flight window stays two batches
                await self._deliver(queue.popleft(), policy, current)
                if len(outcome) >= batch and handing_over is None:
                    handing_over = asyncio.Event()
                    full, outcome = outcome, Outcome()
                    try:
                        await self._record(full)
                    finally:
                        handing_over.set()
                        handing_over = None

        workers = min(PER_SESSION * connections, len(queue))
        await asyncio.gather(*(work() for _ in range(workers)))
        await self._record(outcome)
        if queue:
            log.warning("%d claimed rows given back untried: the claim ran out", len(queue))
            await self._release(d.outbox_id for d in queue)

    async def _record(self, outcome: Outcome) -> None:
        """Write ``outcome`` in a thread once the previous one is written (at most one
        write under way, and one batch waiting for it)."""
        await self._recorded()
        if len(outcome):
            self._recording = asyncio.create_task(
                asyncio.to_thread(self.store.outbox.finish, outcome, utcnow())
            )

    async def _finish_in_hand(self) -> None:
        """Stopping: the fan-out under way ends, the chunks claimed ahead are given back
        unsent, and every outcome is written; then the connections close."""
        try:
            if self._next is not None:
                task, self._next = self._next, None
                self._ready.append(await task)
            await self._fanned()
            while self._ready:
                await self._release(row.id for row in self._ready.popleft().rows)
            await self._recorded()
        finally:
            await self._close_channels()

    async def _release(self, ids) -> None:
        if ids := list(ids):
            await asyncio.to_thread(self.store.outbox.release, ids, self.worker)

    async def _recorded(self) -> None:
        """Wait until the outcome being written is written."""
        if self._recording is not None:
            task, self._recording = self._recording, None
            await task

    async def _deliver(
        self, delivery: Delivery, policy: RetryPolicy, outcome: Callable[[], Outcome]
    ) -> None:
        """Deliver, and note what became of it in ``outcome()`` (the batch current when
        the delivery ends)."""
        try:
            await self.channels[delivery.channel].notify(delivery)
        except DeliveryError as exc:
            log.info("outbox %s: %s", delivery.outbox_id, exc)
            policy.settle(outcome(), delivery, exc, utcnow())
        except Exception as exc:  # a channel's bug: retried like a temporary error
            log.exception("outbox %s: channel %s failed", delivery.outbox_id, delivery.channel)
            policy.settle(outcome(), delivery, DeliveryError(f"{type(exc).__name__}"), utcnow())
        else:
            outcome().sent.append(delivery.outbox_id)

    # -- rows -> deliveries ------------------------------------------------------------------
    def _deliveries(self, rows, notices, config: Config, outcome: Outcome) -> list[Delivery]:
        """The claimed rows as deliveries, given their ``notices`` by (event, language);
        rows nobody should get any more are cancelled."""
        found = []
        for row in rows:
            if row.subscriber_state is None or not row.email:
                outcome.cancelled.append((row.id, "the subscriber left"))
                continue
            notice = notices[self._notice_key(row, config)]
            if notice is None:
                outcome.cancelled.append((row.id, "what the event was about is gone"))
                continue
            if row.subscriber_state != content.recipient_state(notice.kind):
                outcome.cancelled.append((row.id, f"the subscriber is {row.subscriber_state}"))
                continue
            found.append(
                Delivery(
                    outbox_id=row.id,
                    event_id=row.event_id,
                    channel=row.channel,
                    subscriber_id=row.subscriber_id,
                    address=row.email,
                    language=notice.language,
                    token_version=row.token_version,
                    attempts=row.attempts,
                    created_at=row.created_at,
                    notice=notice,
                )
            )
        return found

    @staticmethod
    def _notice_key(row, config: Config) -> tuple[int, str]:
        """(event, language) of a claimed row: the subscriber's language if the site
        speaks it, else the site's first."""
        language = row.language or "en"
        if language not in config.site.languages:
            language = config.site.languages[0]
        return row.event_id, language

    def _load_notices(self, keys, config: Config) -> dict[tuple[int, str], content.Notice | None]:
        """The notices of ``keys``, built where not kept (database reads: run it in a
        thread); the last few are kept."""
        found = {}
        for key in keys:
            if key not in self._notices:
                event = self.store.outbox.event(key[0])
                self._notices[key] = event and content.build(self.store, config, event, key[1])
            found[key] = self._notices[key]
        while len(self._notices) > 64:
            self._notices.popitem(last=False)
        return found

    def _warm(self, config: Config) -> None:
        """Load the locales and compile the templates now, not for an incident's first
        mail (a tenth of a second)."""
        now = utcnow()
        for language in config.site.languages:
            i18n.format_when(now, config.site.tz, language)
            warm_templates(language)

    # -- channels ----------------------------------------------------------------------------
    def _connections(self, config: Config) -> int:
        return self.concurrency or (config.smtp.connections if config.smtp else 1)

    async def _sync_channels(self, config: Config) -> None:
        """Channels as the config says (a reload may have changed the SMTP settings)."""
        if config.smtp == self._smtp:
            return
        await self._close_channels()
        self._smtp = config.smtp
        webhook = WebhookChannel(self.store, self.config, self.secret)
        self.channels = {webhook.name: webhook}
        if config.smtp is None:
            log.warning("no smtp section in the config: email is not sent")
            return
        email = EmailChannel(config.smtp, self.secret, connections=self._connections(config))
        self.channels[email.name] = email

    async def _close_channels(self) -> None:
        channels, self.channels, self._smtp = self.channels, {}, _UNSET
        for channel in channels.values():
            await channel.close()
