"""event rollup: sums of the settled events per cell, and the live events' indexes

Revision ID: 0017_rollup
Revises: 0016_assessment
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from server.database.types import UTCDateTime

revision = '0017_rollup'
down_revision = '0016_assessment'
branch_labels = None
depends_on = None

LIVE = {"postgresql_where": sa.text("NOT rolled_up"), "sqlite_where": sa.text("rolled_up = 0")}


def upgrade() -> None:
    op.create_table(
        'event_rollup',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('street_code', sa.String(length=12), nullable=False),
        sa.Column('grid_id', sa.Integer(), nullable=False),
        sa.Column('reported_month', sa.String(length=7), nullable=False),
        sa.Column('closed_month', sa.String(length=7), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            'events', 'cases', 'closed', 'closed_on_time', 'rated', 'satisfied', 'worker_reports')),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('score_60', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_rollup')),
        sa.UniqueConstraint('street_code', 'reported_month', 'grid_id', 'closed_month', name='uq_event_rollup_cell'),
    )
    op.create_table(
        'event_rollup_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rule_hash', sa.String(length=64), nullable=False),
        sa.Column('rolled_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_rollup_state')),
    )
    # a plain ADD COLUMN (constant default: no rewrite on PostgreSQL, no table copy on SQLite)
    op.add_column('event', sa.Column('rolled_up', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.create_index('ix_event_live_street_reported', 'event', ['street_code', 'reported_at'], **LIVE)
    op.create_index('ix_event_rollup_due', 'event', ['id'], **LIVE)
    op.create_index('ix_event_reported', 'event', ['reported_at'])
    # the disputes statement joins dispute to event by id within a scope and period: from the index alone
    op.drop_index('ix_event_street_reported', table_name='event')
    op.create_index('ix_event_street_reported', 'event', ['street_code', 'reported_at'],
                    postgresql_include=['grid_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_event_street_reported', table_name='event')
    op.create_index('ix_event_street_reported', 'event', ['street_code', 'reported_at'])
    op.drop_index('ix_event_reported', table_name='event')
    op.drop_index('ix_event_rollup_due', table_name='event')
    op.drop_index('ix_event_live_street_reported', table_name='event')
    op.drop_column('event', 'rolled_up')
    op.drop_table('event_rollup_state')
    op.drop_table('event_rollup')
