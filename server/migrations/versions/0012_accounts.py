"""accounts: disable, password change and reset, token versions, staff phones encrypted, admin actions

Revision ID: 0012_accounts
Revises: 0011_app_sessions
Create Date: 2026-12-01

Users had a plain-text phone and no way to force a password change or revoke a token. Phones now
live encrypted beside a keyed hash (server.personal_data, as tenants' do); existing ones are
encrypted here, which needs GRIDOPS_PII_KEY (outside the demo) when any user has a phone.
admin_action records disabling, enabling, password resets and roster imports.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_accounts'
down_revision = '0011_app_sessions'
branch_labels = None
depends_on = None


def _encrypt_existing_phones() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, phone FROM \"user\" WHERE phone IS NOT NULL AND phone <> ''")).all()
    if not rows:
        return
    from server.auth.phones import hash_phone, normalise  # the rule the app applies, and its key
    from server.personal_data import encrypt
    for user_id, phone in rows:
        bind.execute(sa.text("UPDATE \"user\" SET phone_enc = :enc, phone_hash = :hash WHERE id = :id"),
                     {"enc": encrypt(phone), "hash": hash_phone(normalise(phone)), "id": user_id})


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('full_time', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('token_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_user_phone_hash'), ['phone_hash'], unique=False)
    _encrypt_existing_phones()
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('phone')
        batch_op.alter_column('must_change_password', server_default=None)
        batch_op.alter_column('token_version', server_default=None)
    op.create_table(
        'admin_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ),
        sa.ForeignKeyConstraint(['target_id'], ['user.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('admin_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_action_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_action_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_action_target_id'), ['target_id'], unique=False)


def downgrade() -> None:
    op.drop_table('admin_action')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))  # empty: the encrypted numbers are dropped
        batch_op.drop_index(batch_op.f('ix_user_phone_hash'))
        for column in ('token_version', 'password_changed_at', 'must_change_password', 'full_time', 'phone_hash',
                       'phone_enc'):
            batch_op.drop_column(column)
