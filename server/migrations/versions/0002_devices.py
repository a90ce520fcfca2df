"""devices

Revision ID: 0002_devices
Revises: 0001
Create Date: 2026-11-23

The device registry, live state, status intervals, maintenance windows, alarms, door and
card events, and the ingester's dead letters (branch "devices", from 0001).
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry, alembic_helpers  # noqa: F401  (registers geospatial ops)

revision = '0002_devices'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('device_dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('topic', sa.String(length=256), nullable=False),
    sa.Column('device_code', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=512), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_dead_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_dead_letter_device_code'), ['device_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_dead_letter_reason'), ['reason'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_dead_letter_received_at'), ['received_at'], unique=False)

    op.create_geospatial_table('device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('gb_code', sa.String(length=20), nullable=True),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=256), nullable=True),
    sa.Column('owner_unit', sa.String(length=128), nullable=True),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_interval_s', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=160), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('gb_code')
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_device_location', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_device_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_retired_at'), ['retired_at'], unique=False)

    op.create_table('device_alarm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('alarm_type', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_alarm', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_alarm_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_alarm_ts'), ['ts'], unique=False)

    op.create_table('device_card_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('card_no', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_card_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_card_event_card_no'), ['card_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_card_event_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_card_event_ts'), ['ts'], unique=False)

    op.create_table('device_door_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('door', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('card_no', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_door_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_door_event_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_door_event_ts'), ['ts'], unique=False)

    op.create_table('device_maintenance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=256), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_maintenance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_maintenance_device_id'), ['device_id'], unique=False)

    op.create_table('device_state',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('status_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('online_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_ts', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seq', sa.BigInteger(), nullable=True),
    sa.Column('heartbeats', sa.BigInteger(), nullable=False),
    sa.Column('messages', sa.BigInteger(), nullable=False),
    sa.Column('recent_keys', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('device_status_interval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_status_interval', schema=None) as batch_op:
        batch_op.create_index('ix_device_status_interval_device_start', ['device_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_status_interval_end_at'), ['end_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('device_status_interval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_status_interval_end_at'))
        batch_op.drop_index('ix_device_status_interval_device_start')

    op.drop_table('device_status_interval')
    op.drop_table('device_state')
    with op.batch_alter_table('device_maintenance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_maintenance_device_id'))

    op.drop_table('device_maintenance')
    with op.batch_alter_table('device_door_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_door_event_ts'))
        batch_op.drop_index(batch_op.f('ix_device_door_event_device_id'))

    op.drop_table('device_door_event')
    with op.batch_alter_table('device_card_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_card_event_ts'))
        batch_op.drop_index(batch_op.f('ix_device_card_event_device_id'))
        batch_op.drop_index(batch_op.f('ix_device_card_event_card_no'))

    op.drop_table('device_card_event')
    with op.batch_alter_table('device_alarm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_alarm_ts'))
        batch_op.drop_index(batch_op.f('ix_device_alarm_device_id'))

    op.drop_table('device_alarm')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_retired_at'))
        batch_op.drop_index(batch_op.f('ix_device_kind'))
        batch_op.drop_index(batch_op.f('ix_device_grid_id'))
        batch_op.drop_geospatial_index('idx_device_location', postgresql_using='gist', column_name='location')

    op.drop_geospatial_table('device')
    with op.batch_alter_table('device_dead_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_dead_letter_received_at'))
        batch_op.drop_index(batch_op.f('ix_device_dead_letter_reason'))
        batch_op.drop_index(batch_op.f('ix_device_dead_letter_device_code'))

    op.drop_table('device_dead_letter')
