"""Console sessions: log in, look up, log out. Held on the server, so ending them works.

The browser holds a random token; the database holds its SHA-256 and when it was last
used. A session ends after ``idle`` seconds without a request (the TOM's screen lock,
5 minutes by default), after its absolute ``lifetime``, at logout, and when its user
is disabled or changes the password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from status import passwords
from status.clock import utcnow
from status.ops import audit
from status.ops.actor import Actor
from status.store import Store

ANONYMOUS = "anonymous"


class LoginFailed(Exception):
    """Wrong name or password, or a disabled user: the same answer for all three."""


@dataclass(frozen=True)
class SessionUser:
    id: int
    username: str
    role: str
    session_id: str

    def actor(self, ip: str | None) -> Actor:
        return Actor("user", self.username, ip=ip)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def log_in(
    store: Store, *, username: str, password: str, ip: str | None, lifetime: float
) -> tuple[str, SessionUser]:
    """A new session for the user; returns (token for the cookie, the user)."""
    user = store.users.by_name(username.strip()) if username.strip() else None
    # The same work whether or not the user exists: no user enumeration by timing.
    good = passwords.verify(user.password_hash if user else passwords.dummy_hash(), password)
    at = utcnow()
    if user is None or not good or user.disabled:
        with store.begin() as uow:
            audit.record(
                uow,
                Actor("user", user.username if user else ANONYMOUS, ip=ip),
                "session.login_failed",
                ("user", user.id if user else ""),
                at,
                reason="disabled" if user and good else "wrong name or password",
            )
        raise LoginFailed()
    token = secrets.token_urlsafe(32)
    with store.begin() as uow:
        uow.sessions.create(
            session_id=session_id(token),
            user_id=user.id,
            at=at,
            expires_at=at + timedelta(seconds=lifetime),
            ip=ip,
        )
        values = {"last_login_at": at}
        if passwords.needs_rehash(user.password_hash):
            values["password_hash"] = passwords.hash_password(password)
        uow.users.update(user.id, at, **values)
        audit.record(
            uow, Actor("user", user.username, ip=ip), "session.login", ("user", user.id), at
        )
    return token, SessionUser(user.id, user.username, user.role, session_id(token))


def current(
    store: Store, token: str | None, *, idle: float, now: datetime | None = None
) -> SessionUser | None:
    """The user of a live session (and the session marked as used now), or None."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = store.sessions.get(session_id(token))
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or (now - row.last_seen_at).total_seconds() > idle:
        store.sessions.revoke(now, session_id=row.id)
        return None
    user = store.users.get(row.user_id)
    if user is None or user.disabled:
        return None
    store.sessions.touch(row.id, now)
    return SessionUser(user.id, user.username, user.role, row.id)


def log_out(store: Store, user: SessionUser, ip: str | None) -> None:
    at = utcnow()
    with store.begin() as uow:
        uow.sessions.revoke(at, session_id=user.session_id)
        audit.record(uow, user.actor(ip), "session.logout", ("user", user.id), at)
