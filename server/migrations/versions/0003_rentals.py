"""rentals

Revision ID: 0003_rentals
Revises: 0002_devices
Create Date: 2026-11-23

Rental housing, their access controllers, tenants, registration/deregistration records, the
personal-data access log and the card-event cursor (branch "devices", after 0002_devices).
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry, alembic_helpers  # noqa: F401  (registers geospatial ops)

revision = '0003_rentals'
down_revision = '0002_devices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rental_card_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_event_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('pii_access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('fields', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pii_access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pii_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_pii_access_log_user_id'), ['user_id'], unique=False)

    op.create_geospatial_table('rental',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=True),
    sa.Column('rooms', sa.Integer(), nullable=False),
    sa.Column('landlord_name', sa.String(length=64), nullable=False),
    sa.Column('landlord_phone_enc', sa.Text(), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('managed', sa.Boolean(), nullable=False),
    sa.Column('managed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rental', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_rental_location', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_rental_grid_id'), ['grid_id'], unique=False)

    op.create_table('rental_access_controller',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rental_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['rental_id'], ['rental.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id')
    )
    with op.batch_alter_table('rental_access_controller', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rental_access_controller_rental_id'), ['rental_id'], unique=False)

    op.create_table('tenant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rental_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('id_type', sa.String(length=16), nullable=True),
    sa.Column('id_number_enc', sa.Text(), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_enc', sa.Text(), nullable=True),
    sa.Column('card_no', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('moved_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deregistered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_entry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rental_id'], ['rental.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_card_no'), ['card_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenant_id_number_hash'), ['id_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenant_rental_id'), ['rental_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenant_status'), ['status'], unique=False)

    op.create_table('tenant_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tenant_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_record_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenant_record_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenant_record_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tenant_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_record_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_tenant_record_status'))
        batch_op.drop_index(batch_op.f('ix_tenant_record_occurred_at'))

    op.drop_table('tenant_record')
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_status'))
        batch_op.drop_index(batch_op.f('ix_tenant_rental_id'))
        batch_op.drop_index(batch_op.f('ix_tenant_id_number_hash'))
        batch_op.drop_index(batch_op.f('ix_tenant_card_no'))

    op.drop_table('tenant')
    with op.batch_alter_table('rental_access_controller', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rental_access_controller_rental_id'))

    op.drop_table('rental_access_controller')
    with op.batch_alter_table('rental', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rental_grid_id'))
        batch_op.drop_geospatial_index('idx_rental_location', postgresql_using='gist', column_name='location')

    op.drop_geospatial_table('rental')
    with op.batch_alter_table('pii_access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pii_access_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_pii_access_log_at'))

    op.drop_table('pii_access_log')
    op.drop_table('rental_card_cursor')
