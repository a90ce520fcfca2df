"""indexes for the indicator statements

Revision ID: 0004_indicator_indexes
Revises: 0003_reports
Create Date: 2026-11-27

Every indicator statement filters events by street code or grid and by reported_at (visits: by
started_at). The composite indexes replace the single-column ones they start with
(bench/bench_indicators.py shows the plans and times both).
"""
from alembic import op


revision = '0004_indicator_indexes'
down_revision = '0003_reports'
branch_labels = None
depends_on = None

# (table, old single-column index, its column) → the composite indexes that replace or join them
REPLACED = [
    ('event', 'ix_event_grid_id', 'grid_id', 'ix_event_grid_reported', ['grid_id', 'reported_at']),
    ('visit', 'ix_visit_grid_id', 'grid_id', 'ix_visit_grid_started', ['grid_id', 'started_at']),
    ('visit', 'ix_visit_street_code', 'street_code', 'ix_visit_street_started', ['street_code', 'started_at']),
]


def upgrade() -> None:
    for table, old, _, new, columns in REPLACED:
        op.create_index(new, table, columns)
        op.drop_index(old, table_name=table)
    op.create_index('ix_event_street_reported', 'event', ['street_code', 'reported_at'])


def downgrade() -> None:
    op.drop_index('ix_event_street_reported', table_name='event')
    for table, old, column, new, _ in REPLACED:
        op.create_index(old, table, [column])
        op.drop_index(new, table_name=table)
