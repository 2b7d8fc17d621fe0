"""/api/v1/users, /api/v1/tokens and /api/v1/audit: admins only."""

from __future__ import annotations

from flask import Blueprint

from status import ops
from status.models import Role
from status.runtime import runtime
from status.web.api_v1 import schemas as s
from status.web.api_v1.auth import actor
from status.web.api_v1.errors import ApiError
from status.web.api_v1.registry import endpoint

bp = Blueprint("api_v1_admin", __name__)


def user_out(row) -> s.UserOut:
    return s.UserOut(
        username=row.username,
        role=row.role,
        disabled=row.disabled,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def token_out(row, model=s.TokenOut, **extra):
    fields = ("id", "name", "prefix", "role", "created_at", "last_used_at", "expires_at")
    return model(**{f: getattr(row, f) for f in fields}, revoked_at=row.revoked_at, **extra)


def the_user(username: str):
    row = runtime().store.users.by_name(username)
    if row is None:
        raise ApiError(404, "not_found", f"no user {username!r}", "username")
    return row


@endpoint(
    bp, "GET", "/users", summary="Every user", tag="admin", role=Role.ADMIN, answer=s.UserList
)
def list_users():
    return s.UserList(data=[user_out(row) for row in runtime().store.users.all()])


@endpoint(
    bp,
    "POST",
    "/users",
    summary="Add a user",
    tag="admin",
    role=Role.ADMIN,
    body=s.UserCreate,
    answer=s.UserOut,
    status=201,
    errors=(409, 422),
)
def add_user(body: s.UserCreate):
    ops.add_user(
        runtime().store, actor(), name=body.username, password=body.password, role_name=body.role
    )
    return user_out(the_user(body.username))


@endpoint(
    bp,
    "PATCH",
    "/users/{username}",
    summary="Change a user's role, disable or enable, set a password (ends their sessions "
    "and tokens)",
    tag="admin",
    role=Role.ADMIN,
    body=s.UserChange,
    answer=s.UserOut,
    errors=(404, 422),
)
def change_user(username: str, body: s.UserChange):
    store, who = runtime().store, actor()
    name = the_user(username).username
    if body.role is not None:
        ops.set_role(store, who, name=name, role_name=body.role)
    if body.password is not None:
        ops.set_password(store, who, name=name, password=body.password)
    if body.disabled is not None:
        ops.set_disabled(store, who, name=name, disabled=body.disabled)
    return user_out(the_user(name))


@endpoint(
    bp,
    "GET",
    "/tokens",
    summary="Every API token (never the token itself)",
    tag="admin",
    role=Role.ADMIN,
    answer=s.TokenList,
)
def list_tokens():
    return s.TokenList(data=[token_out(row) for row in runtime().store.tokens.all()])


@endpoint(
    bp,
    "POST",
    "/tokens",
    summary="Create a token; the answer shows it, once",
    tag="admin",
    role=Role.ADMIN,
    body=s.TokenCreate,
    answer=s.TokenCreated,
    status=201,
    errors=(404, 422),
)
def create_token(body: s.TokenCreate):
    store = runtime().store
    token_id, token = ops.create_token(
        store,
        actor(),
        name=body.name,
        role_name=body.role,
        expires_at=body.expires_at,
        owner=body.user,
    )
    row = next(r for r in store.tokens.all() if r.id == token_id)
    return token_out(row, s.TokenCreated, token=token)


@endpoint(
    bp,
    "DELETE",
    "/tokens/{token_id}",
    summary="Revoke a token",
    tag="admin",
    role=Role.ADMIN,
    status=204,
    errors=(404,),
)
def revoke_token(token_id: int):
    ops.revoke_token(runtime().store, actor(), token_id)


@endpoint(
    bp,
    "GET",
    "/audit",
    summary="The audit log, oldest first",
    tag="admin",
    role=Role.ADMIN,
    query=s.AuditQuery,
    answer=s.AuditPage,
    errors=(400,),
)
def audit_log(query: s.AuditQuery):
    rows = runtime().store.audit.entries(
        actor=query.actor,
        target_type=query.object_type,
        target_id=query.object_id,
        since=query.since,
        until=query.until,
        after_id=query.after,
        limit=query.limit,
    )
    data = [
        s.AuditEntryOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            object_type=r.target_type,
            object_id=r.target_id,
            ip=r.ip,
            details=r.details,
            hash=r.hash,
        )
        for r in rows
    ]
    return s.AuditPage(data=data, next_cursor=s.next_cursor(data, query.limit))
