"""Daily rollups: uptime and latency per component and day, kept forever."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa

from status import schema as t
from status.store.engine import insert, upsert
from status.store.scope import Repository

VERSION_KEY = "rollups_version"


class RollupRepository(Repository):
    def save(self, rows: list[dict]) -> None:
        """Insert or replace daily rollups (one per component and day)."""
        if not rows:
            return
        with self.scope.write() as conn:
            upsert(conn, t.daily_rollups, rows, ("component_id", "day"))
            # A new token (not a counter: a restored backup must not match a cached one).
            stmt = insert(conn, t.meta).values(key=VERSION_KEY, value=uuid.uuid4().hex)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["key"], set_={"value": stmt.excluded.value}
                )
            )
            self.scope.public_changed(conn)

    def version(self) -> str | None:
        """Changes with every save: the snapshot re-reads rollups only when it moved."""
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.meta.c.value).where(t.meta.c.key == VERSION_KEY)
            ).scalar()

    def since(self, first: date, component_ids: Iterable[str] | None = None) -> list[sa.Row]:
        """Rollups from ``first`` on, by component and day."""
        r = t.daily_rollups.c
        query = sa.select(t.daily_rollups).where(r.day >= first)
        if component_ids is not None:
            query = query.where(r.component_id.in_(list(component_ids)))
        with self.scope.read() as conn:
            return conn.execute(query.order_by(r.component_id, r.day)).all()
