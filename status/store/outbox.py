"""The delivery outbox: one row per event, recipient and channel; the truth of what was sent.

Fan-out (events -> rows) and delivery (claim -> send -> finish) are driven by
``subscribers.outbox`` and ``subscribers.notifier``; this module is their SQL, the
fan-out's part in :mod:`status.store.outbox_fanout`. Rows keep no address: a claim joins
the subscriber for it, so erasing a subscriber leaves nothing personal here but a hash.

- **Claims**: a conditional UPDATE of due, unclaimed (or expired) rows; on PostgreSQL
  the candidates are locked ``FOR UPDATE SKIP LOCKED`` so concurrent notifiers take
  disjoint rows; SQLite runs the statement under its single writer lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from status import schema as t
from status.models import OutboxState, SubscriberState
from status.store.outbox_fanout import PENDING, OutboxFanout, recipient_columns
from status.store.outbox_reports import OutboxReports
from status.store.scope import Repository


@dataclass
class Outcome:
    """What became of claimed rows, recorded by :meth:`OutboxRepository.finish`."""

    sent: list[int] = field(default_factory=list)
    retry: list[tuple[int, datetime, str]] = field(default_factory=list)  # id, when, why
    failed: list[tuple[int, str]] = field(default_factory=list)  # id, why
    cancelled: list[tuple[int, str]] = field(default_factory=list)  # id, why
    bouncing: list[int] = field(default_factory=list)  # subscriber ids

    def __len__(self) -> int:
        return len(self.sent) + len(self.retry) + len(self.failed) + len(self.cancelled)


class Claimed(NamedTuple):
    """A claimed row and what its delivery needs of the subscriber (None: gone)."""

    id: int
    event_id: int
    channel: str
    subscriber_id: int | None
    attempts: int
    created_at: datetime
    email: str | None
    language: str | None
    token_version: int | None
    subscriber_state: str | None

    @classmethod
    def of(cls, row, person) -> Claimed:
        """``row`` (id, event, channel, subscriber, attempts, created_at) with what its
        delivery needs of ``person`` (a ``recipient_columns()`` row; None: gone)."""
        if person is None:
            return cls(*row, None, None, None, None)
        # By position (email, language, token_version, state), the order of
        # recipient_columns(): a fan-out makes a thousand of these at a time.
        return tuple.__new__(cls, (*row, *person[2:]))


_RELEASED = {"claimed_by": None, "claimed_until": None}  # a finished row's claim ends


def _sent(chosen) -> sa.Update:
    """Rows ``chosen`` recorded as sent at ``:now``."""
    values = {"state": OutboxState.SENT.value, "sent_at": sa.bindparam("now"), "last_error": None}
    return sa.update(t.outbox).where(chosen, t.outbox.c.state == PENDING).values(values | _RELEASED)


# Built once (a batch is recorded every few milliseconds), by dialect: on PostgreSQL one
# array of ids (the same statement every time), elsewhere a list of them.
_SENT = {
    "postgresql": _sent(t.outbox.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Integer)))),
    "sqlite": _sent(t.outbox.c.id.in_(sa.bindparam("ids", expanding=True))),
}


class OutboxRepository(OutboxFanout, OutboxReports, Repository):
    # -- delivery --------------------------------------------------------------------------
    def claim(
        self, worker: str, channels: Sequence[str], *, limit: int, lease: float, now: datetime
    ) -> list[Claimed]:
        """Take up to ``limit`` due rows of ``channels`` for ``worker`` until ``now +
        lease``; each with its subscriber's address, language, token version and state
        (None when the subscriber is gone), in (event, id) order.

        Three statements, each driven by an index whatever the table's size: the due
        ids, the UPDATE of exactly those, the subscribers by id. (One ``UPDATE ... WHERE
        id IN (subquery)`` joined to ``subscribers`` is planned on PostgreSQL as two full
        scans and hash joins, a few ms per 10,000 rows.)"""
        o, s = t.outbox.c, t.subscribers.c
        due = (
            sa.select(o.id)
            .where(
                o.state == PENDING,
                o.channel.in_(list(channels)),
                o.next_attempt_at <= now,
                sa.or_(o.claimed_until.is_(None), o.claimed_until < now),
            )
            .order_by(o.next_attempt_at, o.id)
            .limit(limit)
        )
        with self.scope.write() as conn:
            if conn.dialect.name == "postgresql":
                # Locked here, so concurrent notifiers take disjoint rows.
                chosen = o.id.in_(
                    conn.execute(due.with_for_update(skip_locked=True)).scalars().all()
                )
            else:
                # One statement: SQLite's writer lock is taken before the rows are read.
                chosen = o.id.in_(due.scalar_subquery())
            rows = conn.execute(
                sa.update(t.outbox)
                .where(chosen)
                .values(
                    claimed_by=worker,
                    claimed_until=now + timedelta(seconds=lease),
                    attempts=o.attempts + 1,
                )
                .returning(o.id, o.event_id, o.channel, o.subscriber_id, o.attempts, o.created_at)
            ).all()
            if not rows:
                return []
            ids = {r.subscriber_id for r in rows if r.subscriber_id is not None}
            people = {
                p.id: p for p in conn.execute(sa.select(*recipient_columns()).where(s.id.in_(ids)))
            }
        return sorted(
            (Claimed.of(r, people.get(r.subscriber_id)) for r in rows),
            key=lambda c: (c.event_id, c.id),
        )

    def release(self, ids: Sequence[int], worker: str) -> int:
        """Give back rows ``worker`` claimed and did not try (it is stopping): due at once
        for anyone, the claim's attempt not counted."""
        o = t.outbox.c
        with self.scope.write() as conn:
            return conn.execute(
                sa.update(t.outbox)
                .where(o.id.in_(list(ids)), o.claimed_by == worker, o.state == PENDING)
                .values(claimed_by=None, claimed_until=None, attempts=o.attempts - 1)
            ).rowcount

    def finish(self, outcome: Outcome, now: datetime) -> None:
        """Record what became of claimed rows, in one transaction."""
        o = t.outbox.c
        with self.scope.write() as conn:
            if outcome.sent:
                conn.execute(_SENT[conn.dialect.name], {"ids": outcome.sent, "now": now})
            for rows, state in (
                (outcome.failed, OutboxState.FAILED),
                (outcome.cancelled, OutboxState.CANCELLED),
            ):
                if rows:
                    conn.execute(
                        sa.update(t.outbox)
                        .where(o.id == sa.bindparam("row_id"), o.state == PENDING)
                        .values(state=state.value, last_error=sa.bindparam("why"), **_RELEASED),
                        [{"row_id": i, "why": why[:1000]} for i, why in rows],
                    )
            if outcome.retry:
                conn.execute(
                    sa.update(t.outbox)
                    .where(o.id == sa.bindparam("row_id"), o.state == PENDING)
                    .values(
                        next_attempt_at=sa.bindparam("when"),
                        last_error=sa.bindparam("why"),
                        **_RELEASED,
                    ),
                    [
                        {"row_id": i, "when": when, "why": why[:1000]}
                        for i, when, why in outcome.retry
                    ],
                )
            if outcome.bouncing:
                self._bounce(conn, outcome.bouncing, now)

    def _bounce(self, conn, subscriber_ids: Iterable[int], now: datetime) -> None:
        """A permanent rejection: no more mail to these subscribers, and none waiting."""
        ids = sorted(set(subscriber_ids))
        s, o = t.subscribers.c, t.outbox.c
        conn.execute(
            sa.update(t.subscribers)
            .where(s.id.in_(ids), s.state == SubscriberState.CONFIRMED.value)
            .values(state=SubscriberState.BOUNCING.value, updated_at=now)
        )
        conn.execute(
            sa.update(t.outbox)
            .where(o.subscriber_id.in_(ids), o.state == PENDING, o.claimed_by.is_(None))
            .values(state=OutboxState.CANCELLED.value, last_error="the address bounced")
        )
