"""photo links: which event or visit a photo belongs to, for scoped photo reads

Revision ID: 0006_photo_links
Revises: 0005_merge_heads
Create Date: 2026-12-01

Photos were readable by anyone holding their hash. A photo now follows the records it belongs to:
each use is a row with the record's street, grid and owner, filled here from the stored events
and visits.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0006_photo_links'
down_revision = '0005_merge_heads'
branch_labels = None
depends_on = None


def upgrade() -> None:
    link = op.create_table(
        'photo_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('record_type', sa.String(length=16), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('street_code', sa.String(length=12), nullable=True),
        sa.Column('grid_id', sa.Integer(), nullable=True),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['sha256'], ['photo.sha256']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_photo_link_sha256', 'photo_link', ['sha256'])
    conn = op.get_bind()
    rows = []
    for kind, sql in (('event', 'SELECT id, street_code, grid_id, reporter_id, photos FROM event'),
                      ('visit', 'SELECT id, street_code, NULL, worker_id, photos FROM visit')):
        for rid, street, grid, owner, photos in conn.execute(sa.text(sql)):
            keys = json.loads(photos) if isinstance(photos, str) else photos  # text on SQLite
            rows += [{'sha256': k, 'record_type': kind, 'record_id': rid, 'street_code': street,
                      'grid_id': grid, 'owner_id': owner} for k in dict.fromkeys(keys or [])]
    if rows:
        op.bulk_insert(link, rows)


def downgrade() -> None:
    op.drop_index('ix_photo_link_sha256', table_name='photo_link')
    op.drop_table('photo_link')
