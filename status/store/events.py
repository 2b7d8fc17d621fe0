"""Events: what the public or subscribers must learn of, one row per change, written in
the change's transaction (the subscribers' outbox fans out from here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.store.scope import Repository


class EventRepository(Repository):
    def record(
        self,
        kind: str,
        target: tuple[str, int | str],
        *,
        at: datetime,
        components: Iterable[str] = (),
        notify: bool = True,
        **data,
    ) -> int:
        object_type, object_id = target
        with self.scope.write() as conn:
            return conn.execute(
                sa.insert(t.events).values(
                    at=at,
                    kind=kind,
                    object_type=object_type,
                    object_id=str(object_id),
                    components=sorted(set(components)),
                    notify=notify,
                    data=data,
                )
            ).inserted_primary_key[0]

    def after(self, event_id: int = 0, limit: int = 1000) -> list[sa.Row]:
        """Events newer than ``event_id``, oldest first."""
        e = t.events.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.events).where(e.id > event_id).order_by(e.id).limit(limit)
            ).all()
