"""key persons (重点人员) and their information updates

Revision ID: 0015_key_persons
Revises: 0014_event_serial
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from server.database.types import UTCDateTime

revision = '0015_key_persons'
down_revision = '0014_event_serial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'key_person',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('type_code', sa.String(length=32), nullable=False),
        sa.Column('name_enc', sa.Text(), nullable=False),
        sa.Column('id_type', sa.String(length=16), nullable=False),
        sa.Column('id_number_enc', sa.Text(), nullable=True),
        sa.Column('id_hash', sa.String(length=64), nullable=True),
        sa.Column('phone_enc', sa.Text(), nullable=True),
        sa.Column('address_enc', sa.Text(), nullable=True),
        sa.Column('grid_id', sa.Integer(), nullable=False),
        sa.Column('rental_id', sa.Integer(), nullable=True),
        sa.Column('registered_at', UTCDateTime(), nullable=False),
        sa.Column('registered_by', sa.Integer(), nullable=False),
        sa.Column('removed_at', UTCDateTime(), nullable=True),
        sa.Column('removed_reason', sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_key_person_grid_id_grid')),
        sa.ForeignKeyConstraint(['registered_by'], ['user.id'], name=op.f('fk_key_person_registered_by_user')),
        sa.ForeignKeyConstraint(['rental_id'], ['rental.id'], name=op.f('fk_key_person_rental_id_rental')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_person')),
    )
    with op.batch_alter_table('key_person') as batch_op:
        batch_op.create_index('ix_key_person_grid_type', ['grid_id', 'type_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_person_id_hash'), ['id_hash'], unique=False)
    op.create_table(
        'key_person_update',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('key_person_id', sa.Integer(), nullable=False),
        sa.Column('visit_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('note_enc', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_key_person_update_actor_id_user')),
        sa.ForeignKeyConstraint(['key_person_id'], ['key_person.id'],
                                name=op.f('fk_key_person_update_key_person_id_key_person')),
        sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_key_person_update_visit_id_visit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_person_update')),
        sa.UniqueConstraint('uuid', name=op.f('uq_key_person_update_uuid')),
    )
    with op.batch_alter_table('key_person_update') as batch_op:
        batch_op.create_index('ix_key_person_update_person_at', ['key_person_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table('key_person_update')
    op.drop_table('key_person')
