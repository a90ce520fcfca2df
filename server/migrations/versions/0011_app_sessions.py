"""app sessions and the mock-location flag of events

Revision ID: 0011_app_sessions
Revises: 0009_time_limit_policy
Create Date: 2026-12-01

The mobile app reports each sync (POST /app/sessions): one row per worker and day, read by the
app usage indicator (app_usage_rate, seed 002 "综治信息系统手机APP使用率"). Events keep whether
the phone's location came from a mock provider (null for reports from before, or from other
clients that do not say).
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_app_sessions'
down_revision = '0009_time_limit_policy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'app_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('app_version', sa.String(length=32), nullable=False),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('syncs', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'day', name='uq_app_session_user_day'),
    )
    op.create_index('ix_app_session_first_at', 'app_session', ['first_at'])
    op.add_column('event', sa.Column('location_mock', sa.Boolean(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite ≥ 3.35): a batch copy of `event` would break its spatial index's triggers
    op.execute("ALTER TABLE event DROP COLUMN location_mock")
    op.drop_index('ix_app_session_first_at', table_name='app_session')
    op.drop_table('app_session')
