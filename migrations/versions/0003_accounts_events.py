"""accounts sessions events overrides audit chain

Existing audit entries are chained in id order, and the chain's head is stored, so
``audit verify`` holds from the first entry on and concurrent appends queue on it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 05:52:49.246477
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('notify', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_table('idempotency_keys',
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('actor', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('overrides',
    sa.Column('component_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('component_id', name=op.f('pk_overrides'))
    )
    op.create_table('sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_user_id', ['user_id'], unique=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=200), server_default='', nullable=False))
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=True)

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), server_default='', nullable=False))

    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))

    _chain_existing_audit_entries()


def _chain_existing_audit_entries() -> None:
    from status.store.audit import HEAD, entry_hash

    conn = op.get_bind()
    audit = sa.table(
        "audit_log",
        *(sa.column(c) for c in ("id", "actor", "action", "target_type", "target_id", "ip")),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("details", sa.JSON),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    prev = ""
    for row in conn.execute(sa.select(audit).order_by(audit.c.id)).all():
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
        digest = entry_hash(prev, {**row._mapping, "at": at})
        conn.execute(
            sa.update(audit).where(audit.c.id == row.id).values(prev_hash=prev, hash=digest)
        )
        prev = digest
    meta = sa.table("meta", sa.column("key"), sa.column("value"))
    conn.execute(sa.insert(meta).values(key=HEAD, value=prev))


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key IN ('audit_head', 'audit_anchor')")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('password_changed_at')

    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.drop_column('edited_at')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('created_by')

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_user_id')

    op.drop_table('sessions')
    op.drop_table('overrides')
    op.drop_table('idempotency_keys')
    op.drop_table('events')
