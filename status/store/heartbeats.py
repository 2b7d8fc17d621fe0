"""Heartbeat checks: the ping token of each, and when it was last pinged."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.clock import utcnow
from status.store.engine import insert
from status.store.scope import Repository


class HeartbeatRepository(Repository):
    def tokens(self, checks: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The ping token of each (component, probe); new ones are made as needed."""
        checks = list(checks)
        h = t.heartbeats.c
        with self.scope.write() as conn:
            if checks:
                conn.execute(
                    insert(conn, t.heartbeats).on_conflict_do_nothing(
                        index_elements=["component_id", "probe"]
                    ),
                    [
                        {
                            "component_id": c,
                            "probe": p,
                            "token": secrets.token_urlsafe(24),
                            "created_at": utcnow(),
                        }
                        for c, p in checks
                    ],
                )
            rows = conn.execute(sa.select(h.component_id, h.probe, h.token)).all()
        wanted = set(checks)
        return {(c, p): token for c, p, token in rows if (c, p) in wanted}

    def get(self, component_id: str, probe: str) -> sa.Row | None:
        h = t.heartbeats.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.heartbeats).where(h.component_id == component_id, h.probe == probe)
            ).first()

    def ping(self, token: str, *, fail: bool = False, at: datetime | None = None) -> bool:
        """Record a heartbeat ping (or a reported failure); False for an unknown token."""
        column = "last_fail_at" if fail else "last_ping_at"
        with self.scope.write() as conn:
            return bool(
                conn.execute(
                    sa.update(t.heartbeats)
                    .where(t.heartbeats.c.token == token)
                    .values({column: at or utcnow()})
                ).rowcount
            )
