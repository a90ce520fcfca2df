"""merge the devices/rentals and events/reports branches

Revision ID: 0005_merge_heads
Revises: 0003_rentals, 0004_indicator_indexes
Create Date: 2026-12-01

The domains grew their own branches from 0001 (0002_devices → 0003_rentals and
0002_events → 0003_reports → 0004_indicator_indexes). Deployed databases already carry
those revisions, so they are joined here instead of rewritten; from now on there is one head
(tests/server/test_migrations.py keeps it so).
"""


revision = '0005_merge_heads'
down_revision = ('0003_rentals', '0004_indicator_indexes')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
