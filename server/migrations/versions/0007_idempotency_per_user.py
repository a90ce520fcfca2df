"""idempotency keys per user: an Idempotency-Key is unique per (actor, key), no longer across users

Revision ID: 0007_idempotency_per_user
Revises: 0006_photo_links
Create Date: 2026-12-02

A key was unique over every user's transitions, so another user's key answered with their
history row (or a 409). Keys are now looked up per user; the unique constraint follows.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_idempotency_per_user'
down_revision = '0006_photo_links'
branch_labels = None
depends_on = None

# SQLite keeps 0002's constraint unnamed: batch mode names it by this convention to drop it.
NAMING = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}


def _old_name() -> str:
    """0002's unique constraint on idempotency_key (PostgreSQL named it, SQLite did not)."""
    for uc in sa.inspect(op.get_bind()).get_unique_constraints('event_history'):
        if uc['column_names'] == ['idempotency_key'] and uc['name']:
            return uc['name']
    return 'uq_event_history_idempotency_key'


def upgrade() -> None:
    name = _old_name()
    with op.batch_alter_table('event_history', naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(name, type_='unique')
        batch_op.create_unique_constraint('uq_event_history_actor_key', ['actor_id', 'idempotency_key'])


def downgrade() -> None:
    """Fails if two users have used the same key since the upgrade (the old rule forbade that)."""
    with op.batch_alter_table('event_history', naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint('uq_event_history_actor_key', type_='unique')
        batch_op.create_unique_constraint('event_history_idempotency_key_key', ['idempotency_key'])
