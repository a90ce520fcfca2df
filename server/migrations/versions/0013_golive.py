"""go-live imports: communities can be retired; imports of personal data are logged

Revision ID: 0013_golive
Revises: 0012_accounts
Create Date: 2026-12-01

A district's tree now comes from its statistical division list and changes through the API:
a retired community keeps its row so its code is never issued again (as for grids). Rental and
tenant ledgers arrive in bulk: each import that writes ID numbers and phones leaves one row in
pii_import_log (who, when, which file, how many), as each full read leaves one in pii_access_log.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_golive'
down_revision = '0012_accounts'  # merged wip-accounts; the brief's base was 0009_time_limit_policy
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('community', sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'pii_import_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('filename', sa.String(length=256), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('rentals', sa.Integer(), nullable=False),
        sa.Column('tenants', sa.Integer(), nullable=False),
        sa.Column('fields', sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pii_import_log_at', 'pii_import_log', ['at'])


def downgrade() -> None:
    op.drop_index('ix_pii_import_log_at', table_name='pii_import_log')
    op.drop_table('pii_import_log')
    op.drop_column('community', 'retired_at')
