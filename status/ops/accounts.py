"""Users and API tokens: least privilege, revoked at once, every change audited.

Roles (:class:`status.models.Role`): ``viewer`` reads the console, ``editor`` also
posts incidents, maintenance and overrides, ``admin`` also manages users, tokens and
subscribers. A password change or disabling a user ends that user's sessions and
tokens in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from status import passwords
from status.clock import utcnow
from status.models import Role
from status.ops import audit
from status.ops.actor import Actor
from status.ops.errors import Conflict, Invalid, NotFound
from status.store import Store, UnitOfWork

TOKEN_PREFIX = "lst_"


def role(value: str, field: str = "role") -> str:
    try:
        return Role(value).value
    except ValueError:
        raise Invalid(f"must be one of {', '.join(r.value for r in Role)}", field) from None


def username(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 150 or any(c.isspace() for c in value):
        raise Invalid("must be 1 to 150 characters without spaces (an email address)", "username")
    return value


def _user(uow: UnitOfWork, name: str):
    found = uow.users.by_name(name)
    if found is None:
        raise NotFound(f"no user {name!r}", "username")
    return found


def hashed_password(password: str, name: str) -> str:
    """The argon2id hash of a password that meets the policy (else Invalid, naming it)."""
    try:
        passwords.check(password, username=name)
    except passwords.PasswordRejected as exc:
        raise Invalid(str(exc), "password") from None
    return passwords.hash_password(password)


def add_user(store: Store, actor: Actor, *, name: str, password: str, role_name: str) -> int:
    """A new user; the password must meet the policy (:mod:`status.passwords`)."""
    name, role_name = username(name), role(role_name)
    password_hash = hashed_password(password, name)
    at = utcnow()
    with store.begin() as uow:
        if uow.users.by_name(name) is not None:
            raise Conflict(f"a user {name!r} exists already", "username")
        user_id = uow.users.create(
            username=name, password_hash=password_hash, role=role_name, at=at
        )
        audit.record(uow, actor, "user.add", ("user", user_id), at, username=name, role=role_name)
    return user_id


def set_password(store: Store, actor: Actor, *, name: str, password: str) -> None:
    """A new password; the user's sessions and tokens end with the old one."""
    password_hash = hashed_password(password, name)
    at = utcnow()
    with store.begin() as uow:
        user = _user(uow, name)
        uow.users.update(user.id, at, password_hash=password_hash, password_changed_at=at)
        ended = _end_access(uow, user.id, at)
        audit.record(uow, actor, "user.passwd", ("user", user.id), at, username=name, **ended)


def set_disabled(store: Store, actor: Actor, *, name: str, disabled: bool) -> None:
    """Disable (access revoked on leaving: sessions and tokens end at once) or enable."""
    at = utcnow()
    with store.begin() as uow:
        user = _user(uow, name)
        uow.users.update(user.id, at, disabled=disabled)
        ended = _end_access(uow, user.id, at) if disabled else {}
        action = "user.disable" if disabled else "user.enable"
        audit.record(uow, actor, action, ("user", user.id), at, username=name, **ended)


def set_role(store: Store, actor: Actor, *, name: str, role_name: str) -> None:
    role_name = role(role_name)
    at = utcnow()
    with store.begin() as uow:
        user = _user(uow, name)
        uow.users.update(user.id, at, role=role_name)
        audit.record(
            uow,
            actor,
            "user.role",
            ("user", user.id),
            at,
            username=name,
            before={"role": user.role},
            role=role_name,
        )


def _end_access(uow: UnitOfWork, user_id: int, at: datetime) -> dict:
    return {
        "sessions_ended": uow.sessions.revoke(at, user_id=user_id),
        "tokens_revoked": uow.tokens.revoke(at, user_id=user_id),
    }


# -- API tokens --------------------------------------------------------------------------------
def token_hash(token: str) -> str:
    """Tokens are 256 random bits: a fast hash keeps them safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: Store,
    actor: Actor,
    *,
    name: str,
    role_name: str,
    expires_at: datetime | None = None,
    owner: str | None = None,
) -> tuple[int, str]:
    """A new token; returns (id, the token), which is shown this once and never stored."""
    name, role_name = name.strip(), role(role_name)
    if not name or len(name) > 150:
        raise Invalid("must be 1 to 150 characters", "name")
    at = utcnow()
    if expires_at is not None and expires_at <= at:
        raise Invalid("must be in the future", "expires")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.begin() as uow:
        user_id = _user(uow, owner).id if owner else None
        token_id = uow.tokens.create(
            at,
            name=name,
            token_hash=token_hash(token),
            prefix=token[: len(TOKEN_PREFIX) + 6],
            role=role_name,
            user_id=user_id,
            expires_at=expires_at,
            created_by=str(actor),
        )
        audit.record(
            uow,
            actor,
            "token.create",
            ("token", token_id),
            at,
            name=name,
            role=role_name,
            expires_at=expires_at.isoformat() if expires_at else None,
            owner=owner,
        )
    return token_id, token


def revoke_token(store: Store, actor: Actor, token_id: int) -> None:
    at = utcnow()
    with store.begin() as uow:
        if not uow.tokens.revoke(at, token_id=token_id):
            raise NotFound(f"no live token with id {token_id}", "id")
        audit.record(uow, actor, "token.revoke", ("token", token_id), at)


@dataclass(frozen=True)
class TokenIdentity:
    """Who a valid bearer token acts as."""

    token_id: int
    name: str
    role: str

    @property
    def actor(self) -> Actor:
        return Actor("token", self.name)


def authenticate_token(store: Store, token: str, now: datetime | None = None):
    """The identity of a live token (not revoked, not expired, its user enabled), or None.

    One connection for all of it (every API request pays this); the last-used time is
    written at most once a minute.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    now = now or utcnow()
    with store.begin() as uow:
        row = uow.tokens.by_hash(token_hash(token))
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        if row.user_id is not None:
            user = uow.users.get(row.user_id)
            if user is None or user.disabled:
                return None
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= 60:
            uow.tokens.touch(row.id, now)
    return TokenIdentity(row.id, row.name, row.role)
