"""Overrides: a component's status set by hand, for when the probes are wrong."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.store.scope import Repository


class OverrideRepository(Repository):
    def set(self, component_id: str, at: datetime, **values) -> sa.Row | None:
        """Set (or replace) the override; returns the one it replaced, if any.

        ``values``: ``status``, ``reason``, ``expires_at``, ``actor``.
        """
        o = t.overrides.c
        with self.scope.write() as conn:
            before = conn.execute(
                sa.select(t.overrides).where(o.component_id == component_id).with_for_update()
            ).first()
            if before is not None:
                conn.execute(sa.delete(t.overrides).where(o.component_id == component_id))
            conn.execute(
                sa.insert(t.overrides).values(component_id=component_id, created_at=at, **values)
            )
            self.scope.public_changed(conn)
        return before

    def clear(self, component_id: str) -> sa.Row | None:
        """Remove the override; returns it (None if there was none)."""
        o = t.overrides.c
        with self.scope.write() as conn:
            before = conn.execute(
                sa.select(t.overrides).where(o.component_id == component_id).with_for_update()
            ).first()
            if before is not None:
                conn.execute(sa.delete(t.overrides).where(o.component_id == component_id))
                self.scope.public_changed(conn)
        return before

    def active(self, now: datetime) -> dict[str, sa.Row]:
        """The overrides in force at ``now``, by component."""
        o = t.overrides.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(t.overrides).where(sa.or_(o.expires_at.is_(None), o.expires_at > now))
            ).all()
        return {row.component_id: row for row in rows}

    def expired(self, now: datetime) -> list[sa.Row]:
        o = t.overrides.c
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.overrides).where(o.expires_at <= now)).all()

    def expire(self, component_id: str, now: datetime) -> bool:
        """Remove the override if it has expired by ``now``; True if this call did."""
        o = t.overrides.c
        with self.scope.write() as conn:
            gone = conn.execute(
                sa.delete(t.overrides).where(o.component_id == component_id, o.expires_at <= now)
            ).rowcount
            if gone:
                self.scope.public_changed(conn)
        return bool(gone)
