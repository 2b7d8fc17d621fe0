"""maintenance reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("maintenances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminder_minutes", sa.Integer(), server_default="60", nullable=False)
        )
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("maintenances", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("reminder_minutes")
