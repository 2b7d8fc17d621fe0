"""The audit log: who changed what, when and from where, written with the change."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.store.scope import Repository


class AuditRepository(Repository):
    def record(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str | None = None,
        details: dict | None = None,
        ip: str | None = None,
        at: datetime,
    ) -> None:
        """One entry; in a unit of work it commits (or not) with the change it records."""
        with self.scope.write() as conn:
            conn.execute(
                sa.insert(t.audit_log).values(
                    at=at,
                    actor=actor,
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    details=details or {},
                    ip=ip,
                )
            )

    def entries(self) -> list[sa.Row]:
        """Every entry, oldest first."""
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.audit_log).order_by(t.audit_log.c.id)).all()
