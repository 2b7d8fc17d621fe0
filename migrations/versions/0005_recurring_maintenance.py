"""recurring maintenance windows (series and occurrences)

A series holds the rule; its windows are ordinary ``maintenances`` rows that name it
(``series_id``) and the start the rule gave them (``occurrence_start``), each start
once (a unique constraint: two clocks extending the horizon cannot double a window).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_series",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("dtstart", sa.DateTime(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("auto_transition", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("reminder_minutes", sa.Integer(), server_default="60", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("materialised_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_series")),
    )
    with op.batch_alter_table("maintenances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("detached", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_maintenances_series_id"), ["series_id", "occurrence_start"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_maintenances_series_id_maintenance_series"),
            "maintenance_series",
            ["series_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenances", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_maintenances_series_id_maintenance_series"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_maintenances_series_id"), type_="unique")
        batch_op.drop_column("detached")
        batch_op.drop_column("occurrence_start")
        batch_op.drop_column("series_id")
    op.drop_table("maintenance_series")
