"""The delivery outbox: one row per event, recipient and channel; the truth of what was sent.

Fan-out (events -> rows) and delivery (claim -> send -> finish) are driven by
``subscribers.outbox``; this module is their SQL. Rows keep no address: a claim joins
the subscriber for it, so erasing a subscriber leaves nothing personal here but a hash.

- **Fan-out**: :meth:`OutboxRepository.events_after` reads events past the cursor (meta
  key ``outbox.cursor``); each notifying event is fanned out in batches of subscribers
  in id order, each batch's rows committed with the event's progress
  (``outbox_fanout``), so an interrupted fan-out resumes and a repeated one adds
  nothing (UNIQUE(event, channel, recipient hash), ON CONFLICT DO NOTHING).
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

from status import schema as t
from status.models import OutboxState, SubscriberState
from status.store.engine import insert
from status.store.outbox_reports import OutboxReports
from status.store.scope import Repository

CURSOR_KEY = "outbox.cursor"
PENDING = OutboxState.PENDING.value


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
        delivery needs of ``person`` (a :func:`_recipient_columns` row; None: gone)."""
        if person is None:
            return cls(*row, None, None, None, None)
        return cls(*row, person.email, person.language, person.token_version, person.state)


_ADD_COLUMNS = (
    "event_id", "channel", "recipient_hash", "subscriber_id", "state", "attempts",
    "next_attempt_at", "created_at", "claimed_by", "claimed_until",
)  # fmt: skip
_ADD = sa.text(
    f"INSERT INTO outbox ({', '.join(_ADD_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _ADD_COLUMNS)}) "
    "ON CONFLICT (event_id, channel, recipient_hash) DO NOTHING"
).bindparams(*(sa.bindparam(c, type_=t.outbox.c[c].type) for c in _ADD_COLUMNS))


_SENT = (  # built once: a batch is recorded every few milliseconds
    sa.update(t.outbox)
    .where(t.outbox.c.id.in_(sa.bindparam("ids", expanding=True)), t.outbox.c.state == PENDING)
    .values(
        state=OutboxState.SENT.value,
        sent_at=sa.bindparam("now"),
        last_error=None,
        claimed_by=None,
        claimed_until=None,
    )
)


def _recipient_columns():
    """What fan-out reads of a subscriber: whom to tell, how, and (for a delivery that
    starts at once) in which language, with which link version."""
    s = t.subscribers.c
    return s.id, s.channel, _address(), s.language, s.token_version, s.state


def _address():
    """Where a subscriber is told, labelled ``email``: the address, or a webhook's URL."""
    s = t.subscribers.c
    return sa.func.coalesce(s.email, s.webhook_url).label("email")


class OutboxRepository(OutboxReports, Repository):
    # -- fan-out ---------------------------------------------------------------------------
    def cursor(self) -> int:
        """Every event up to this id has been fanned out (or needs none)."""
        with self.scope.read() as conn:
            value = conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == CURSOR_KEY))
            value = value.scalar()
        return int(value) if value is not None else 0

    def advance_cursor(self, event_id: int) -> None:
        """Move the cursor forward to ``event_id`` (never back: a slower notifier's view
        of the events must not undo a faster one's)."""
        with self.scope.write() as conn:
            conn.execute(
                insert(conn, t.meta)
                .values(key=CURSOR_KEY, value="0")
                .on_conflict_do_nothing(index_elements=["key"])
            )
            conn.execute(
                sa.update(t.meta)
                .where(
                    t.meta.c.key == CURSOR_KEY,
                    sa.cast(t.meta.c.value, sa.Integer) < event_id,
                )
                .values(value=str(event_id))
            )

    def pending_events(self, after: int, kinds: tuple[str, ...], limit: int = 100):
        """Events past ``after`` that notify, whose kind starts with one of ``kinds``, and
        whose fan-out is not done; oldest first."""
        e, f = t.events.c, t.outbox_fanout.c
        query = (
            sa.select(e.id, e.at, e.kind, e.object_type, e.object_id, e.components, e.data)
            .select_from(t.events.outerjoin(t.outbox_fanout, f.event_id == e.id))
            .where(
                e.id > after,
                e.notify,
                sa.or_(*(e.kind.startswith(k, autoescape=True) for k in kinds)),
                f.done_at.is_(None),
            )
            .order_by(e.id)
            .limit(limit)
        )
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def last_event_before(self, after: int, before: datetime) -> int:
        """The newest event id past ``after`` at or before ``before`` (``after`` if none)."""
        e = t.events.c
        with self.scope.read() as conn:
            found = conn.execute(
                sa.select(sa.func.max(e.id)).where(e.id > after, e.at <= before)
            ).scalar()
        return found or after

    def event(self, event_id: int) -> sa.Row | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.events).where(t.events.c.id == event_id)).first()

    def lock_fanout(self, event_id: int, now: datetime) -> sa.Row | None:
        """The event's fan-out progress, locked for this transaction; None while another
        notifier holds it (PostgreSQL). Use inside a unit of work."""
        f = t.outbox_fanout.c
        with self.scope.write() as conn:
            conn.execute(
                insert(conn, t.outbox_fanout)
                .values(event_id=event_id, started_at=now)
                .on_conflict_do_nothing(index_elements=["event_id"])
            )
            query = sa.select(t.outbox_fanout).where(f.event_id == event_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            return conn.execute(query).first()

    def followers(self, components: Sequence[str], *, after: int, limit: int) -> list[sa.Row]:
        """Confirmed subscribers past id ``after`` (id order) following any of
        ``components``; an empty list reaches every confirmed subscriber."""
        s, sc = t.subscribers.c, t.subscriber_components.c
        query = sa.select(*_recipient_columns()).where(
            s.state == SubscriberState.CONFIRMED.value, s.id > after
        )
        if components:
            follows = sa.exists().where(
                sc.subscriber_id == s.id, sc.component_id.in_(list(components))
            )
            query = query.where(sa.or_(s.all_components, follows))
        with self.scope.read() as conn:
            return conn.execute(query.order_by(s.id).limit(limit)).all()

    def recipient(self, subscriber_id: int | None, state: str | None) -> list[sa.Row]:
        """The one subscriber a personal mail is for, if it is in ``state`` (else none)."""
        s = t.subscribers.c
        if subscriber_id is None or state is None:
            return []
        query = sa.select(*_recipient_columns()).where(s.id == int(subscriber_id), s.state == state)
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def add(self, rows: list[dict]) -> int:
        """Insert outbox rows; those already there (same event, channel, recipient) are
        left alone. Returns how many were new.

        One statement run once per row (the driver's executemany) rather than
        SQLAlchemy's INSERT of many rows at once, which it uses on PostgreSQL for an
        ``insert()`` construct: psycopg then parses a statement of 10,000 parameters in
        Python, a fifth of the notifier's time, and its rowcount is unknown (-1)."""
        if not rows:
            return 0
        with self.scope.write() as conn:
            return conn.execute(_ADD, rows).rowcount

    def claimed_in(self, event_id: int, worker: str, until: datetime) -> dict[int, int]:
        """Rows of ``event_id`` that ``worker`` claimed until exactly ``until`` (those a
        fan-out batch just wrote for it): their ids by subscriber id."""
        o = t.outbox.c
        query = sa.select(o.subscriber_id, o.id).where(
            o.event_id == event_id, o.claimed_by == worker, o.claimed_until == until
        )
        with self.scope.read() as conn:
            return dict(conn.execute(query).all())

    def progress(self, event_id: int, last_subscriber_id: int, added: int, done_at) -> None:
        f = t.outbox_fanout.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.outbox_fanout)
                .where(f.event_id == event_id)
                .values(last_subscriber_id=last_subscriber_id, rows=f.rows + added, done_at=done_at)
            )

    def analyze(self) -> None:
        """Refresh the outbox's planner statistics (PostgreSQL; SQLite plans these
        queries well without)."""
        with self.scope.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("ANALYZE outbox"))

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
                p.id: p for p in conn.execute(sa.select(*_recipient_columns()).where(s.id.in_(ids)))
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
        released = {"claimed_by": None, "claimed_until": None}
        with self.scope.write() as conn:
            if outcome.sent:
                conn.execute(_SENT, {"ids": outcome.sent, "now": now})
            for rows, state in (
                (outcome.failed, OutboxState.FAILED),
                (outcome.cancelled, OutboxState.CANCELLED),
            ):
                if rows:
                    conn.execute(
                        sa.update(t.outbox)
                        .where(o.id == sa.bindparam("row_id"), o.state == PENDING)
                        .values(state=state.value, last_error=sa.bindparam("why"), **released),
                        [{"row_id": i, "why": why[:1000]} for i, why in rows],
                    )
            if outcome.retry:
                conn.execute(
                    sa.update(t.outbox)
                    .where(o.id == sa.bindparam("row_id"), o.state == PENDING)
                    .values(
                        next_attempt_at=sa.bindparam("when"),
                        last_error=sa.bindparam("why"),
                        **released,
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
