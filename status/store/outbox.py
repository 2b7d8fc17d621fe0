"""The delivery outbox: one row per event, recipient and channel; the truth of what was sent."""

from __future__ import annotations

import sqlalchemy as sa

from status import schema as t
from status.models import OutboxState
from status.store.scope import Repository


class OutboxRepository(Repository):
    def pending_count(self) -> int:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(t.outbox.c.state == OutboxState.PENDING.value)
            ).scalar()
