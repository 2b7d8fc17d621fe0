"""Users, their console sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.store.scope import Repository


class UserRepository(Repository):
    def create(self, *, username: str, password_hash: str, role: str, at: datetime) -> int:
        with self.scope.write() as conn:
            return conn.execute(
                sa.insert(t.users).values(
                    username=username,
                    password_hash=password_hash,
                    role=role,
                    created_at=at,
                    updated_at=at,
                    password_changed_at=at,
                )
            ).inserted_primary_key[0]

    def get(self, user_id: int) -> sa.Row | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()

    def by_name(self, username: str) -> sa.Row | None:
        """The user of this name; names compare without regard to case."""
        u = t.users.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.users).where(sa.func.lower(u.username) == username.lower())
            ).first()

    def all(self) -> list[sa.Row]:
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.users).order_by(t.users.c.username)).all()

    def update(self, user_id: int, at: datetime, **values) -> None:
        """Change some columns (``password_hash``, ``role``, ``disabled``, ...)."""
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.users).where(t.users.c.id == user_id).values(updated_at=at, **values)
            )


class SessionRepository(Repository):
    def create(
        self, *, session_id: str, user_id: int, at: datetime, expires_at: datetime, ip: str | None
    ) -> None:
        with self.scope.write() as conn:
            conn.execute(
                sa.insert(t.sessions).values(
                    id=session_id,
                    user_id=user_id,
                    created_at=at,
                    last_seen_at=at,
                    expires_at=expires_at,
                    ip=ip,
                )
            )

    def get(self, session_id: str) -> sa.Row | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.sessions).where(t.sessions.c.id == session_id)).first()

    def touch(self, session_id: str, at: datetime) -> None:
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.sessions).where(t.sessions.c.id == session_id).values(last_seen_at=at)
            )

    def revoke(
        self,
        at: datetime,
        *,
        session_id: str | None = None,
        user_id: int | None = None,
        keep: str | None = None,
    ):
        """End one session, or every open session of a user (but ``keep``)."""
        s = t.sessions.c
        where = s.id == session_id if session_id is not None else s.user_id == user_id
        if keep is not None:
            where = sa.and_(where, s.id != keep)
        with self.scope.write() as conn:
            return conn.execute(
                sa.update(t.sessions).where(where, s.revoked_at.is_(None)).values(revoked_at=at)
            ).rowcount


class TokenRepository(Repository):
    def create(self, at: datetime, **values) -> int:
        """``name``, ``token_hash``, ``prefix``, ``role``, ``user_id``, ``expires_at``,
        ``created_by``."""
        with self.scope.write() as conn:
            return conn.execute(
                sa.insert(t.api_tokens).values(created_at=at, **values)
            ).inserted_primary_key[0]

    def by_hash(self, token_hash: str) -> sa.Row | None:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash)
            ).first()

    def all(self) -> list[sa.Row]:
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.api_tokens).order_by(t.api_tokens.c.id)).all()

    def touch(self, token_id: int, at: datetime) -> None:
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.api_tokens).where(t.api_tokens.c.id == token_id).values(last_used_at=at)
            )

    def revoke(self, at: datetime, *, token_id: int | None = None, user_id: int | None = None):
        """Revoke one token, or every live token of a user; returns how many."""
        k = t.api_tokens.c
        where = k.id == token_id if token_id is not None else k.user_id == user_id
        with self.scope.write() as conn:
            return conn.execute(
                sa.update(t.api_tokens).where(where, k.revoked_at.is_(None)).values(revoked_at=at)
            ).rowcount
