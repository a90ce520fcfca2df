"""login throttle: failed logins per account name and per client address

Revision ID: 0008_login_throttle
Revises: 0007_idempotency_per_user
Create Date: 2026-12-02

Logins had no limit. The counts live in the database so every server process shares them
(server/auth/throttle.py); keys are keyed hashes, never the typed name or the address.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_login_throttle'
down_revision = '0007_idempotency_per_user'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('level', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_login_throttle_updated_at', 'login_throttle', ['updated_at'])


def downgrade() -> None:
    op.drop_index('ix_login_throttle_updated_at', table_name='login_throttle')
    op.drop_table('login_throttle')
