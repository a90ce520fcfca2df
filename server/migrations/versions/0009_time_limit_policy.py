"""time_limit_policy: the time limit (时限) rows were the only place the concept was called SLA

Revision ID: 0009_time_limit_policy
Revises: 0008_login_throttle
Create Date: 2026-12-01

One name per concept (GLOSSARY): the rows keep their data, the table takes the name the code, the
API (/events/time-limits) and the README use. PostgreSQL keeps a renamed table's constraint names,
so the primary key is renamed to what a fresh table of that name would have.
"""
from alembic import op

revision = '0009_time_limit_policy'
down_revision = '0008_login_throttle'
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT {old}_pkey TO {new}_pkey")


def upgrade() -> None:
    _rename('sla_policy', 'time_limit_policy')


def downgrade() -> None:
    _rename('time_limit_policy', 'sla_policy')
