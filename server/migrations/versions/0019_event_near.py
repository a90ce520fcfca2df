"""event near: the duplicate check reads one index, not a row per same-category event of the day

A report looks for an open event of its category reported within 24 hours and 100 m by someone
else (server.events.duplicates). The index on (category_code, reported_at) found the day's events of
the category, and each was then read from the table to compare its place, reporter and state: a
report's check grew with the day's reports (0.3 ms at 300 of its category, 1.0 ms at 1,200 on SQLite,
bench_events). With the place, reporter and state in the index, SQLite answers from the index alone
and PostgreSQL reads from the table only the events near enough; the index still serves every filter
by category and period that the narrower one did.

Revision ID: 0019_event_near
Revises: 0018_dispute_area
Create Date: 2026-12-02
"""
from alembic import op

revision = '0019_event_near'
down_revision = '0018_dispute_area'
branch_labels = None
depends_on = None

NEAR = ['category_code', 'reported_at', 'lon', 'lat', 'reporter_id', 'state']


def upgrade() -> None:
    op.create_index('ix_event_category_near', 'event', NEAR)
    op.drop_index('ix_event_category_reported', table_name='event')


def downgrade() -> None:
    op.create_index('ix_event_category_reported', 'event', ['category_code', 'reported_at'])
    op.drop_index('ix_event_category_near', table_name='event')
