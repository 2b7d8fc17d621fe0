"""Leases: which worker runs what (probe shards, housekeeping), renewed or taken over."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from status import schema as t
from status.clock import utcnow
from status.store.engine import insert
from status.store.scope import Repository


class LeaseRepository(Repository):
    def claim(
        self, names: Iterable[str], holder: str, *, ttl: float, now: datetime | None = None
    ) -> set[str]:
        """Take or renew each lease that is free, expired or already ours; return those held."""
        now = now or utcnow()
        expires = now + timedelta(seconds=ttl)
        names = list(names)
        if not names:
            return set()
        lease = t.leases.c
        with self.scope.write() as conn:
            conn.execute(
                insert(conn, t.leases).on_conflict_do_nothing(index_elements=["name"]),
                [{"name": n, "holder": holder, "expires_at": expires} for n in names],
            )
            conn.execute(
                sa.update(t.leases)
                .where(
                    lease.name.in_(names), sa.or_(lease.holder == holder, lease.expires_at < now)
                )
                .values(holder=holder, expires_at=expires)
            )
            return set(
                conn.execute(
                    sa.select(lease.name).where(lease.name.in_(names), lease.holder == holder)
                ).scalars()
            )

    def release(self, names: Iterable[str], holder: str) -> None:
        with self.scope.write() as conn:
            conn.execute(
                sa.delete(t.leases).where(
                    t.leases.c.name.in_(list(names)), t.leases.c.holder == holder
                )
            )

    def live(self, prefix: str, now: datetime | None = None) -> dict[str, str]:
        """Unexpired leases whose name starts with ``prefix``: name -> holder."""
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(t.leases.c.name, t.leases.c.holder).where(
                    t.leases.c.name.startswith(prefix, autoescape=True),
                    t.leases.c.expires_at >= (now or utcnow()),
                )
            ).all()
        return dict(rows)
