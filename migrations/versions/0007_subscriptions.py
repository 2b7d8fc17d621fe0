"""subscribers, consent and signed links (subscribers issue, lifecycle)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirm_requests", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("confirm_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_column("ip_hash")
        batch_op.add_column(sa.Column("ip_prefix", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_column("ip_prefix")
        batch_op.add_column(sa.Column("ip_hash", sa.String(length=128), nullable=True))
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("confirm_requested_at")
        batch_op.drop_column("confirm_requests")
