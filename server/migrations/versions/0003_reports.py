"""trainings and weekly reports

Revision ID: 0003_reports
Revises: 0002_events
Create Date: 2026-11-23

Trainings held and weekly situation reports produced: counted by the budget indicators.
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2


revision = '0003_reports'
down_revision = '0002_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('training',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('street_code', sa.String(length=12), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('attendees', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('training', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_held_at'), ['held_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_street_code'), ['street_code'], unique=False)

    op.create_table('weekly_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generated_by', sa.Integer(), nullable=True),
    sa.Column('markdown', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['generated_by'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('weekly_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weekly_report_generated_at'), ['generated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('weekly_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_weekly_report_generated_at'))

    op.drop_table('weekly_report')
    with op.batch_alter_table('training', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_street_code'))
        batch_op.drop_index(batch_op.f('ix_training_held_at'))

    op.drop_table('training')
