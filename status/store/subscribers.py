"""Subscribers, their components and consent records."""

from __future__ import annotations

import sqlalchemy as sa

from status import schema as t
from status.store.scope import Repository


class SubscriberRepository(Repository):
    def count_by_state(self) -> dict[str, int]:
        s = t.subscribers.c
        with self.scope.read() as conn:
            return dict(conn.execute(sa.select(s.state, sa.func.count()).group_by(s.state)).all())
