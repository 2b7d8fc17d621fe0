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
from status.ops.accounts import hashed_password
from status.ops.actor import Actor
from status.ops.errors import Invalid
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
    has_totp: bool = False

    def actor(self, ip: str | None) -> Actor:
        return Actor("user", self.username, ip=ip)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def log_in(
    store: Store,
    *,
    username: str,
    password: str,
    ip: str | None,
    lifetime: float,
    code: str = "",
) -> tuple[str, SessionUser]:
    """A new session for the user; returns (token for the cookie, the user).

    A user with a second factor also needs the current ``code`` of the authenticator.
    """
    user = store.users.by_name(username.strip()) if username.strip() else None
    # The same work whether or not the user exists: no user enumeration by timing.
    good = passwords.verify(user.password_hash if user else passwords.dummy_hash(), password)
    if good and user is not None and user.totp_secret:
        good = totp_matches(user.totp_secret, code)
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
    return token, SessionUser(
        user.id, user.username, user.role, session_id(token), bool(user.totp_secret)
    )


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
    return SessionUser(user.id, user.username, user.role, row.id, bool(user.totp_secret))


def totp_matches(secret: str, code: str) -> bool:
    """The authenticator's current code (or the one before or after: clocks drift)."""
    import pyotp

    code = code.replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app takes (typed in, or as a QR code)."""
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def set_totp(store: Store, user: SessionUser, ip: str | None, secret: str | None) -> None:
    """Turn the second factor on (with a confirmed secret) or off; audited."""
    at = utcnow()
    with store.begin() as uow:
        uow.users.update(user.id, at, totp_secret=secret)
        action = "user.totp_on" if secret else "user.totp_off"
        audit.record(uow, user.actor(ip), action, ("user", user.id), at)


def change_own_password(
    store: Store, user: SessionUser, ip: str | None, *, current: str, new: str
) -> None:
    """A user changes their own password: the current one first; every other session
    of theirs ends, this one goes on."""
    row = store.users.get(user.id)
    if row is None or not passwords.verify(row.password_hash, current):
        raise Invalid("is not your current password", "current")
    password_hash = hashed_password(new, row.username)
    at = utcnow()
    with store.begin() as uow:
        uow.users.update(user.id, at, password_hash=password_hash, password_changed_at=at)
        ended = uow.sessions.revoke(at, user_id=user.id, keep=user.session_id)
        tokens = uow.tokens.revoke(at, user_id=user.id)
        audit.record(
            uow, user.actor(ip), "user.passwd", ("user", user.id), at,
            sessions_ended=ended, tokens_revoked=tokens,
        )  # fmt: skip


def log_out(store: Store, user: SessionUser, ip: str | None) -> None:
    at = utcnow()
    with store.begin() as uow:
        uow.sessions.revoke(at, session_id=user.session_id)
        audit.record(uow, user.actor(ip), "session.logout", ("user", user.id), at)
