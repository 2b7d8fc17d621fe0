"""The notifier: fans events out into the outbox and delivers its rows (``notify run``,
or a thread of the all-in-one process).

One loop on one asyncio event loop: fan out a slice of pending events, claim a batch of
due rows, deliver them through the channels (``concurrency`` at a time: the SMTP pool's
connections), record the outcome. The outcome of batch *n* is written while batch
*n + 1* is delivered, so a notifier killed at any moment leaves at most two batches
sent but not recorded: those rows are claimed again once their claim expires and sent
a second time (the in-flight window, docs/decisions.md). Everything else is exactly
once: a row is ``sent`` only after the server accepted it, and never claimed twice
while a claim holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable

from status.clock import utcnow
from status.config import Config
from status.store import Store
from status.store.outbox import Outcome
from subscribers import content
from subscribers.base import Channel, Delivery, DeliveryError, RetryPolicy
from subscribers.email import EmailChannel
from subscribers.outbox import fan_out
from subscribers.webhook import WebhookChannel

log = logging.getLogger(__name__)

LEASE = 300.0  # seconds a claim holds: far longer than a batch takes to deliver
PER_CONNECTION = 16  # rows claimed per connection and batch
_UNSET = object()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Notifier:
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
        self._next: asyncio.Task | None = None  # the next batch, being claimed

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stopping: threading.Event) -> None:
        """Until ``stopping`` is set; the batch in hand is finished and recorded first."""
        asyncio.run(self.serve(stopping))

    async def serve(self, stopping: threading.Event) -> None:
        log.info("notifier %s running", self.worker)
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
        """One round: deliver a batch of due rows while, in threads, new events are fanned
        out and the next batch is claimed (the database work overlaps the sending);
        returns how much was done (0: idle)."""
        config = self.config()
        await self._sync_channels(config)
        if self._fanning is None:
            self._fanning = asyncio.create_task(asyncio.to_thread(fan_out, self.store, self.secret))
        if not self.channels:
            return await self._fanned()
        size = self.batch or PER_CONNECTION * self._connections(config)
        claimed, self._next = self._next, None
        rows = await (claimed or self._claim(size))
        if not rows:
            return await self._fanned()  # rows may come of it: wait, then look again
        if len(rows) == size:  # likely more: claim the next batch while this one is sent
            self._next = asyncio.create_task(self._claim(size))
        if self._fanning.done():
            await self._fanned()
        await self._send(rows, config)
        return len(rows)

    async def _claim(self, size: int):
        return await asyncio.to_thread(
            self.store.outbox.claim,
            self.worker,
            list(self.channels),
            limit=size,
            lease=self.lease,
            now=utcnow(),
        )

    async def _fanned(self) -> int:
        """Wait for the fan-out under way; how many subscribers it visited."""
        task, self._fanning = self._fanning, None
        return await task if task is not None else 0

    async def _send(self, rows, config: Config) -> None:
        """Deliver claimed rows; their outcome is written while the next batch is sent."""
        outcome = Outcome()
        deliveries = await asyncio.to_thread(self._deliveries, rows, config, outcome)
        policy = RetryPolicy(**config.notifications.model_dump())
        await asyncio.gather(*(self._deliver(d, policy, outcome) for d in deliveries))
        await self._recorded()
        self._recording = asyncio.create_task(
            asyncio.to_thread(self.store.outbox.finish, outcome, utcnow())
        )

    async def _finish_in_hand(self) -> None:
        """Stopping: the batch claimed ahead is sent too, the fan-out under way ends, and
        every outcome is written; then the connections close."""
        try:
            if self._next is not None:
                task, self._next = self._next, None
                if rows := await task:
                    await self._send(rows, self.config())
            await self._recorded()
            await self._fanned()
        finally:
            await self._close_channels()

    async def _recorded(self) -> None:
        """Wait until the previous batch's outcome is written."""
        if self._recording is not None:
            task, self._recording = self._recording, None
            await task

    async def _deliver(self, delivery: Delivery, policy: RetryPolicy, outcome: Outcome):
        try:
            await self.channels[delivery.channel].notify(delivery)
        except DeliveryError as exc:
            log.info("outbox %s: %s", delivery.outbox_id, exc)
            policy.settle(outcome, delivery, exc, utcnow())
        except Exception as exc:  # a channel's bug: retried like a temporary error
            log.exception("outbox %s: channel %s failed", delivery.outbox_id, delivery.channel)
            policy.settle(outcome, delivery, DeliveryError(f"{type(exc).__name__}"), utcnow())
        else:
            outcome.sent.append(delivery.outbox_id)

    # -- rows -> deliveries ------------------------------------------------------------------
    def _deliveries(self, rows, config: Config, outcome: Outcome) -> list[Delivery]:
        """The claimed rows as deliveries; rows nobody should get any more are cancelled."""
        found = []
        for row in rows:
            if row.subscriber_state is None or not row.email:
                outcome.cancelled.append((row.id, "the subscriber left"))
                continue
            notice = self._notice(row.event_id, row.language or "en", config)
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

    def _notice(self, event_id: int, language: str, config: Config) -> content.Notice | None:
        if language not in config.site.languages:
            language = config.site.languages[0]
        key = (event_id, language)
        if key not in self._notices:
            event = self.store.outbox.event(event_id)
            self._notices[key] = event and content.build(self.store, config, event, language)
            while len(self._notices) > 64:
                self._notices.popitem(last=False)
        return self._notices[key]

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
