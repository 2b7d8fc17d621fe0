"""The channel contract (DESIGN §6) and the retry rules every channel shares.

A channel delivers one :class:`Delivery` or raises :class:`DeliveryError`; whether and
when the row is tried again is decided here, once, for every channel
(:meth:`RetryPolicy.settle`): a temporary error backs off exponentially until the row is
older than ``notifications.max_age``; a permanent one fails the row at once and (for a
subscriber's address) marks the subscriber bouncing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from status.store.outbox import Outcome
from subscribers.content import Notice


class DeliveryError(Exception):
    """A delivery did not happen; ``permanent``: trying again cannot help (SMTP 5xx)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    """One outbox row, ready to deliver: whom, what, and the row's identity."""

    outbox_id: int
    event_id: int
    channel: str
    subscriber_id: int
    address: str
    language: str
    token_version: int
    attempts: int  # including this one
    created_at: datetime
    notice: Notice


class Channel:
    """A way to tell a subscriber. Subclasses implement :meth:`notify` (a coroutine: the
    notifier drives every delivery on one event loop; a blocking channel can run its
    work with ``asyncio.to_thread``)."""

    name = ""

    async def notify(self, delivery: Delivery) -> None:
        """Deliver, or raise :class:`DeliveryError`."""
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of connections (the notifier is stopping, or the config changed)."""


@dataclass(frozen=True)
class RetryPolicy:
    retry_after: float = 30.0
    retry_max: float = 3600.0
    max_age: float = 24 * 3600.0

    def next_attempt(self, attempts: int, created_at: datetime, now: datetime):
        """When to try again after ``attempts`` tries; None when that would be too late."""
        delay = min(self.retry_after * 2 ** max(attempts - 1, 0), self.retry_max)
        when = now + timedelta(seconds=delay)
        if when > created_at + timedelta(seconds=self.max_age):
            return None
        return when

    def settle(self, outcome: Outcome, delivery: Delivery, error: DeliveryError, now) -> None:
        """Record a failed delivery in ``outcome``: retry later, or give up."""
        reason = f"{delivery.channel}: {error}"
        if error.permanent:
            outcome.failed.append((delivery.outbox_id, f"permanent: {reason}"))
            outcome.bouncing.append(delivery.subscriber_id)
            return
        when = self.next_attempt(delivery.attempts, delivery.created_at, now)
        if when is None:
            outcome.failed.append((delivery.outbox_id, f"gave up after {delivery.attempts} "
                                   f"attempts: {reason}"))  # fmt: skip
        else:
            outcome.retry.append((delivery.outbox_id, when, reason))
