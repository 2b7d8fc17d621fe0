"""The outbox's fan-out SQL, part of :class:`status.store.outbox.OutboxRepository`.

:meth:`OutboxFanout.pending_events` reads events past the cursor (meta key
``outbox.cursor``); each notifying event is fanned out in batches of subscribers in id
order (``subscribers.outbox``), each batch's rows committed with the event's progress
(``outbox_fanout``), so an interrupted fan-out resumes and a repeated one adds nothing
(UNIQUE(event, channel, recipient hash), ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from status import schema as t
from status.models import OutboxState, SubscriberState
from status.store.engine import insert

CURSOR_KEY = "outbox.cursor"
PENDING = OutboxState.PENDING.value


class NewRow(NamedTuple):
    """An outbox row a fan-out writes: for whom, and whether it is written claimed."""

    channel: str
    recipient_hash: str
    subscriber_id: int
    claimed: bool


_ADD_COLUMNS = (
    "event_id", "channel", "recipient_hash", "subscriber_id", "state", "attempts",
    "next_attempt_at", "created_at", "claimed_by", "claimed_until",
)  # fmt: skip
_ADD = sa.text(
    f"INSERT INTO outbox ({', '.join(_ADD_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _ADD_COLUMNS)}) "
    "ON CONFLICT (event_id, channel, recipient_hash) DO NOTHING"
).bindparams(*(sa.bindparam(c, type_=t.outbox.c[c].type) for c in _ADD_COLUMNS))
_ADD_ARRAYS = sa.text(  # PostgreSQL: a batch in one statement, four arrays
    f"INSERT INTO outbox ({', '.join(_ADD_COLUMNS)}) "
    f"SELECT :event_id, r.channel, r.recipient_hash, r.subscriber_id, '{PENDING}', "
    "CASE WHEN r.claimed THEN 1 ELSE 0 END, :now, :now, "
    "CASE WHEN r.claimed THEN :worker END, CASE WHEN r.claimed THEN :until END "
    "FROM unnest(CAST(:channels AS text[]), CAST(:hashes AS text[]), "
    "CAST(:subscriber_ids AS integer[]), CAST(:claimed AS boolean[])) "
    "AS r(channel, recipient_hash, subscriber_id, claimed) "
    "ON CONFLICT (event_id, channel, recipient_hash) DO NOTHING "
    "RETURNING subscriber_id, id, claimed_by IS NOT NULL"
).bindparams(
    sa.bindparam("now", type_=t.outbox.c.created_at.type),
    sa.bindparam("until", type_=t.outbox.c.claimed_until.type),
)


def _values(event_id: int, row: NewRow, now: datetime, worker, until) -> dict:
    return {
        "event_id": event_id,
        "channel": row.channel,
        "recipient_hash": row.recipient_hash,
        "subscriber_id": row.subscriber_id,
        "state": PENDING,
        "attempts": 1 if row.claimed else 0,
        "next_attempt_at": now,
        "created_at": now,
        "claimed_by": worker if row.claimed else None,
        "claimed_until": until if row.claimed else None,
    }


def recipient_columns():
    """What fan-out reads of a subscriber: whom to tell, how, and (for a delivery that
    starts at once) in which language, with which link version; ``Claimed.of`` takes
    the last four by position."""
    s = t.subscribers.c
    return s.id, s.channel, _address(), s.language, s.token_version, s.state


def _address():
    """Where a subscriber is told, labelled ``email``: the address, or a webhook's URL."""
    s = t.subscribers.c
    return sa.func.coalesce(s.email, s.webhook_url).label("email")


class OutboxFanout:
    """Fan-out's reads and writes; mixed into the outbox repository (``self.scope``)."""

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

    def followers(
        self,
        components: Sequence[str],
        *,
        after: int,
        limit: int,
        channels: Sequence[str] | None = None,
    ) -> list[sa.Row]:
        """Confirmed subscribers past id ``after`` (id order) following any of
        ``components``; an empty list reaches every confirmed subscriber. With
        ``channels``, only those told by one of them."""
        s, sc = t.subscribers.c, t.subscriber_components.c
        query = sa.select(*recipient_columns()).where(
            s.state == SubscriberState.CONFIRMED.value, s.id > after
        )
        if channels is not None:
            query = query.where(s.channel.in_(list(channels)))
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
        query = sa.select(*recipient_columns()).where(s.id == int(subscriber_id), s.state == state)
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def add(
        self, event_id: int, rows: list[NewRow], now: datetime, *, worker=None, until=None
    ) -> tuple[int, dict[int, int]]:
        """Insert ``event_id``'s outbox rows, due ``now``, those marked ``claimed`` claimed
        for ``worker`` until ``until`` (the claim counts as an attempt); rows already
        there (same event, channel, recipient) are left alone. Returns how many were new
        and the ids of the new claimed rows by subscriber id.

        PostgreSQL takes the batch as one INSERT of four arrays (``unnest``), which
        returns what it wrote; SQLite one statement run once per row (the driver's
        executemany), then the claimed rows read back. (SQLAlchemy's INSERT of many
        rows at once has psycopg parse a statement of 10,000 parameters in Python, a
        fifth of the notifier's time.)"""
        if not rows:
            return 0, {}
        with self.scope.write() as conn:
            if conn.dialect.name == "postgresql":
                written = conn.execute(
                    _ADD_ARRAYS,
                    {"event_id": event_id, "now": now, "worker": worker, "until": until,
                     "channels": [r.channel for r in rows],
                     "hashes": [r.recipient_hash for r in rows],
                     "subscriber_ids": [r.subscriber_id for r in rows],
                     "claimed": [r.claimed for r in rows]},
                ).all()  # fmt: skip
                return len(written), {row[0]: row[1] for row in written if row[2]}
            added = conn.execute(_ADD, [_values(event_id, row, now, worker, until) for row in rows])
            if not any(row.claimed for row in rows):
                return added.rowcount, {}
            o = t.outbox.c
            ours = conn.execute(
                sa.select(o.subscriber_id, o.id).where(
                    o.event_id == event_id, o.claimed_by == worker, o.claimed_until == until
                )
            )
            return added.rowcount, dict(ours.all())

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
