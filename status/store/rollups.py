"""Daily rollups: uptime and latency per component and day, kept forever."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa

from status import schema as t
from status.store.engine import upsert
from status.store.scope import Repository

VERSION_KEY = "rollups_version"  # in meta: changes with every save


class RollupRepository(Repository):
    def save(self, rows: list[dict]) -> None:
        """Insert or replace daily rollups (one per component and day)."""
        if not rows:
            return
        with self.scope.write() as conn:
            upsert(conn, t.daily_rollups, rows, ("component_id", "day"))
            # A new token (not a counter: a restored backup must not match a cached one).
            upsert(conn, t.meta, [{"key": VERSION_KEY, "value": uuid.uuid4().hex}], ("key",))
            self.scope.public_changed(conn)

    def since(self, first: date, component_ids: Iterable[str] | None = None) -> list[sa.Row]:
        """Rollups from ``first`` on, by component and day."""
        r = t.daily_rollups.c
        query = sa.select(t.daily_rollups).where(r.day >= first)
        if component_ids is not None:
            query = query.where(r.component_id.in_(list(component_ids)))
        with self.scope.read() as conn:
            return conn.execute(query.order_by(r.component_id, r.day)).all()
