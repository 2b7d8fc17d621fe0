"""webhook subscriptions: a subscriber is told by email or by a signed webhook

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHECK = (
    "(channel = 'email' AND email IS NOT NULL) OR "
    "(channel = 'webhook' AND webhook_url IS NOT NULL AND webhook_secret IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), server_default="email", nullable=False)
        )
        batch_op.add_column(sa.Column("webhook_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=128), nullable=True))
        batch_op.alter_column("email", existing_type=sa.String(length=320), nullable=True)
        batch_op.create_check_constraint("channel_address", CHECK)


def downgrade() -> None:
    # Webhook subscribers have no address the old schema could hold: they go.
    op.execute("DELETE FROM subscribers WHERE channel <> 'email'")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint("channel_address", type_="check")
        batch_op.alter_column("email", existing_type=sa.String(length=320), nullable=False)
        batch_op.drop_column("webhook_secret")
        batch_op.drop_column("webhook_url")
        batch_op.drop_column("channel")
