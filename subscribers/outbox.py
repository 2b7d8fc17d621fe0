"""Fan-out: every new event that notifies becomes one outbox row per subscriber and
channel, written in batches, resumable and idempotent (DESIGN §6).

The events are read past a cursor. Each notifying event is fanned out a batch of
subscribers at a time (id order): the batch's rows and the event's progress commit in
one transaction, so a notifier killed mid-way resumes where the last batch ended, and
the UNIQUE(event, channel, recipient hash) constraint keeps a repeated batch (another
notifier, a retry after a lost commit) from adding a second row. Memory is one batch,
whatever the number of subscribers.

The cursor trails the newest event by :data:`SETTLE` seconds. Events get their ids
before they commit, so on PostgreSQL a slow transaction can commit an event with a lower
id than one already seen; everything younger than the settle time is looked at again
(done events are skipped cheaply) so such a late event is still found.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from status.clock import utcnow
from status.store import Store
from status.store.outbox import Claimed
from status.store.outbox_fanout import NewRow
from subscribers.content import NOTIFYING, ONE_PERSON, ONLY_BY, recipient_state

log = logging.getLogger(__name__)

BATCH = 1000
FIRST_BATCH = 100  # an event's first batch: written, and sent, in a moment
SETTLE = 300.0
CHANNELS = ("email", "webhook")  # a subscriber's `channel`: each is told one way


def recipient_hash(secret: str, channel: str, address: str) -> str:
    """A keyed hash of the address: what the outbox keeps to tell recipients apart,
    useless for finding the address again without the key."""
    text = f"{channel}:{address.strip().lower()}".encode()
    return hmac.digest(_hash_key(secret), text, "sha256").hex()


@cache
def _hash_key(secret: str) -> bytes:
    """The recipient hash's key, derived once per secret (not once per fan-out row)."""
    return hashlib.sha256(f"leitstand.outbox:{secret}".encode()).digest()


@dataclass
class Claim:
    """Rows a fan-out writes already claimed for ``worker`` (for ``lease`` seconds), so
    that its notifier delivers them at once instead of claiming them back; only rows of
    ``channels`` (those it can deliver). What was claimed is added to ``rows``."""

    worker: str
    channels: tuple[str, ...]
    lease: float
    rows: list[Claimed] = field(default_factory=list)


def fan_out(
    store: Store,
    secret: str,
    *,
    max_rows: int = 5 * BATCH,
    batch: int = BATCH,
    settle: float | None = None,
    now: datetime | None = None,
    claim: Claim | None = None,
) -> int:
    """Fan out pending events, about ``max_rows`` subscribers' worth (the caller comes
    back for more); returns how many subscribers were visited. With a ``claim``, it
    returns after the first batch that claimed rows: they are to be sent now."""
    now = now or utcnow()
    if settle is None:  # SQLite commits one writer at a time, in id order
        settle = SETTLE if store.dialect == "postgresql" else 0.0
    cursor = store.outbox.cursor()
    visited, claimed = 0, len(claim.rows) if claim else 0
    for event in store.outbox.pending_events(cursor, NOTIFYING):
        more = True
        while more and visited < max_rows and not (claim and len(claim.rows) > claimed):
            count, more = fan_out_batch(store, secret, event, batch=batch, claim=claim)
            visited += count
        if more:
            break
    # Past every settled event, but never past one whose fan-out is not done (ours
    # cut short, or another notifier's in progress: it may yet die).
    settled = store.outbox.last_event_before(cursor, now - timedelta(seconds=settle))
    unfinished = store.outbox.pending_events(cursor, NOTIFYING, limit=1)
    if unfinished:
        settled = min(settled, unfinished[0].id - 1)
    if settled > cursor:
        store.outbox.advance_cursor(settled)
    return visited


def fan_out_batch(
    store: Store, secret: str, event, *, batch: int = BATCH, claim: Claim | None = None
) -> tuple[int, bool]:
    """One batch of ``event``'s fan-out; returns (subscribers visited, more to do)."""
    now = utcnow()
    until = now + timedelta(seconds=claim.lease) if claim else None
    with store.begin() as uow:
        progress = uow.outbox.lock_fanout(event.id, now)
        if progress is None or progress.done_at is not None:
            return 0, False  # another notifier has it, or it is done
        if event.kind.startswith(ONE_PERSON):  # a mail to one person, never to everyone
            subscriber_id = (event.data or {}).get("subscriber_id")
            followers = uow.outbox.recipient(subscriber_id, recipient_state(event.kind))
            batch = len(followers) + 1  # done after this batch
        else:
            if progress.last_subscriber_id == 0:  # the first mail leaves sooner
                batch = min(batch, FIRST_BATCH)
            followers = uow.outbox.followers(
                event.components,
                after=progress.last_subscriber_id,
                limit=batch,
                channels=ONLY_BY.get(event.kind),
            )
        channels = claim.channels if claim else ()
        rows = [
            NewRow(
                f.channel, recipient_hash(secret, f.channel, f.email), f.id, f.channel in channels
            )
            for f in followers
        ]
        worker = claim.worker if claim else None
        added, ours = uow.outbox.add(event.id, rows, now, worker=worker, until=until)
        more = len(followers) == batch
        second = progress.last_subscriber_id != 0 and progress.rows <= batch
        last = followers[-1].id if followers else progress.last_subscriber_id
        uow.outbox.progress(event.id, last, added, None if more else now)
    if claim is not None:  # committed: these are ours to deliver
        claim.rows.extend(
            Claimed.of((ours[f.id], event.id, f.channel, f.id, 1, now), f)
            for f in followers
            if f.id in ours
        )
    if second:
        # Many rows at once: the planner learns of them now, not when autovacuum next
        # looks (a minute, in which each claim would scan and sort every pending row).
        # Not after the first batch: its rows are being sent meanwhile.
        store.outbox.analyze()
    if not more:
        log.info("event %s (%s): fanned out", event.id, event.kind)
    return len(followers), more
