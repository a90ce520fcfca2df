"""worker assessment: manual items, sign-offs, frozen scores

Revision ID: 0016_assessment
Revises: 0015_key_persons
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from server.database.types import UTCDateTime

revision = '0016_assessment'
down_revision = '0015_key_persons'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'assessment_adjustment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=False),
        sa.Column('item_code', sa.String(length=32), nullable=False),
        sa.Column('points', sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_assessment_adjustment_actor_id_user')),
        sa.ForeignKeyConstraint(['worker_id'], ['user.id'], name=op.f('fk_assessment_adjustment_worker_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_adjustment')),
    )
    op.create_index('ix_assessment_adjustment_month_worker', 'assessment_adjustment', ['month', 'worker_id'])
    op.create_table(
        'assessment_signoff',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('street_code', sa.String(length=12), nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_assessment_signoff_actor_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_signoff')),
        sa.UniqueConstraint('month', 'street_code', 'level', name='uq_assessment_signoff'),
    )
    op.create_table(
        'assessment_score',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('street_code', sa.String(length=12), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('total', sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column('coverage', sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column('rule_version', sa.String(length=32), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_assessment_score_actor_id_user')),
        sa.ForeignKeyConstraint(['worker_id'], ['user.id'], name=op.f('fk_assessment_score_worker_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_score')),
        sa.UniqueConstraint('month', 'worker_id', 'version', name='uq_assessment_score_version'),
    )
    op.create_index('ix_assessment_score_month_street', 'assessment_score', ['month', 'street_code'])


def downgrade() -> None:
    op.drop_index('ix_assessment_score_month_street', table_name='assessment_score')
    op.drop_table('assessment_score')
    op.drop_table('assessment_signoff')
    op.drop_index('ix_assessment_adjustment_month_worker', table_name='assessment_adjustment')
    op.drop_table('assessment_adjustment')
