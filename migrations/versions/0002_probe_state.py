"""probe state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:53:01.401540
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('probe_state',
    sa.Column('component_id', sa.String(length=64), nullable=False),
    sa.Column('probe', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('successes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('slow', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clean', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_result_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_ok', sa.Boolean(), nullable=False),
    sa.Column('last_latency_seconds', sa.Float(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('component_id', 'probe', 'region', name=op.f('pk_probe_state'))
    )



def downgrade() -> None:

    op.drop_table('probe_state')

