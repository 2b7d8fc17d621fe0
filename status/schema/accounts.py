"""People and access: users, their sessions, API tokens, idempotent API requests, and
the audit log."""

from __future__ import annotations

import sqlalchemy as sa

from status.schema.base import UTCDateTime, created_columns, id_column, metadata

users = sa.Table(
    "users",
    metadata,
    id_column(),
    # An email address: individual logins (TOM), never a shared "admin".
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    *created_columns(),
    sa.Column("last_login_at", UTCDateTime),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("password_changed_at", UTCDateTime),
    sa.Column("totp_secret", sa.String(64)),  # base32; set once the user confirmed a code
)

# Console sessions live on the server, so logout, a password change or disabling the
# user ends them at once. The cookie carries a random token; only its hash is here.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the token, hex
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # the absolute lifetime
    sa.Column("ip", sa.String(64)),
    sa.Column("revoked_at", UTCDateTime),
    sa.Index("ix_sessions_user_id", "user_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    id_column(),
    # The user it acts for, if any: a bot's token (made with the CLI) belongs to nobody.
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")),
    sa.Column("name", sa.String(150), nullable=False),
    # Only a hash is stored; the prefix lets a user recognise a token in lists.
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
)

# A POST with an Idempotency-Key answers a retry with its first result.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("request", sa.String(64), nullable=False),  # hash of method, path and body
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("actor", "key"),
)

# Append-only and tamper-evident: each entry's hash covers its content and the hash of
# the entry before it (see status/store/audit.py), so an edited or removed row breaks
# the chain from there on.
audit_log = sa.Table(
    "audit_log",
    metadata,
    id_column(),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(64), nullable=False),
    sa.Column("target_id", sa.String(200)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""),
    sa.Column("hash", sa.String(64), nullable=False, server_default=""),
)
