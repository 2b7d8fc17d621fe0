"""What ``/metrics``, ``/healthz`` and the console read of the outbox, and the console's
retry button: part of :class:`status.store.outbox.OutboxRepository`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.models import OutboxState

PENDING = OutboxState.PENDING.value


class OutboxReports:
    """Counts and lists; mixed into the outbox repository (``self.scope``)."""

    def pending_count(self) -> int:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(t.outbox.c.state == PENDING)
            ).scalar()

    def counts(self) -> dict[tuple[str, str], int]:
        """(state, channel) -> rows."""
        o = t.outbox.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(o.state, o.channel, sa.func.count()).group_by(o.state, o.channel)
            ).all()
        return {(state, channel): n for state, channel, n in rows}

    def oldest_pending_at(self) -> datetime | None:
        """When the oldest row still waiting was written (None: nothing waits)."""
        o = t.outbox.c
        with self.scope.read() as conn:
            query = sa.select(sa.func.min(o.created_at)).where(o.state == PENDING)
            return conn.execute(query).scalar()

    def by_event(self, event_id: int) -> dict[str, int]:
        """The event's rows by state (the console's per-event view)."""
        o = t.outbox.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(o.state, sa.func.count()).where(o.event_id == event_id).group_by(o.state)
            ).all()
        return dict(rows)

    def recent(self, *, limit: int = 50, personal: str = "subscriber.") -> list[sa.Row]:
        """The newest events with outbox rows (not mails to one person, kinds starting
        with ``personal``): id, kind, at, object; their rows by state; newest first."""
        o, e = t.outbox.c, t.events.c
        count = {
            state.value: sa.func.count().filter(o.state == state.value).label(state.value)
            for state in OutboxState
        }
        query = (
            sa.select(e.id, e.kind, e.at, e.object_type, e.object_id, *count.values())
            .select_from(t.outbox.join(t.events, e.id == o.event_id))
            .where(sa.not_(e.kind.startswith(personal, autoescape=True)))
            .group_by(e.id, e.kind, e.at, e.object_type, e.object_id)
            .order_by(e.id.desc())
            .limit(limit)
        )
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def personal_counts(self, personal: str = "subscriber.") -> dict[str, int]:
        """Rows of mails to one person (confirmation, manage link) by state."""
        o, e = t.outbox.c, t.events.c
        query = (
            sa.select(o.state, sa.func.count())
            .select_from(t.outbox.join(t.events, e.id == o.event_id))
            .where(e.kind.startswith(personal, autoescape=True))
            .group_by(o.state)
        )
        with self.scope.read() as conn:
            return dict(conn.execute(query).all())

    def failure_reasons(self, event_ids: Sequence[int]) -> dict[int, list[tuple[str, int]]]:
        """Each event's failed rows by reason (most frequent first)."""
        o = t.outbox.c
        query = (
            sa.select(o.event_id, o.last_error, sa.func.count().label("n"))
            .where(o.event_id.in_(list(event_ids)), o.state == OutboxState.FAILED.value)
            .group_by(o.event_id, o.last_error)
            .order_by(o.event_id, sa.desc("n"))
        )
        found: dict[int, list[tuple[str, int]]] = {}
        with self.scope.read() as conn:
            for event_id, reason, n in conn.execute(query):
                found.setdefault(event_id, []).append((reason or "", n))
        return found

    def rows(self, event_id: int | None = None) -> list[sa.Row]:
        """Rows (of one event), oldest first: for tests and the console."""
        query = sa.select(t.outbox).order_by(t.outbox.c.id)
        if event_id is not None:
            query = query.where(t.outbox.c.event_id == event_id)
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def retry_failed(self, event_id: int, now: datetime) -> int:
        """Put an event's failed rows back in line (the console's retry button)."""
        o = t.outbox.c
        with self.scope.write() as conn:
            return conn.execute(
                sa.update(t.outbox)
                .where(o.event_id == event_id, o.state == OutboxState.FAILED.value)
                .values(
                    state=PENDING, next_attempt_at=now, attempts=0, created_at=now, last_error=None
                )
            ).rowcount
