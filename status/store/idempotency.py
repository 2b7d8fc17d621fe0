"""Idempotency keys: the first answer to a POST, replayed to its retries."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.store.scope import Repository


class IdempotencyRepository(Repository):
    def get(self, actor: str, key: str) -> sa.Row | None:
        k = t.idempotency_keys.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.idempotency_keys).where(k.actor == actor, k.key == key)
            ).first()

    def reserve(self, actor: str, key: str, request: str, at: datetime) -> bool:
        """Claim the key for a request being answered now; False if it is taken."""
        try:
            with self.scope.write() as conn:
                conn.execute(
                    sa.insert(t.idempotency_keys).values(
                        actor=actor, key=key, request=request, status_code=0, body="", created_at=at
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def finish(self, actor: str, key: str, status_code: int, body: str) -> None:
        k = t.idempotency_keys.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.idempotency_keys)
                .where(k.actor == actor, k.key == key)
                .values(status_code=status_code, body=body)
            )

    def release(self, actor: str, key: str) -> None:
        k = t.idempotency_keys.c
        with self.scope.write() as conn:
            conn.execute(sa.delete(t.idempotency_keys).where(k.actor == actor, k.key == key))

    def prune(self, before: datetime) -> int:
        with self.scope.write() as conn:
            return conn.execute(
                sa.delete(t.idempotency_keys).where(t.idempotency_keys.c.created_at < before)
            ).rowcount
