"""event serial: a number people can say on the phone ("2026-000123"), per district and year

Revision ID: 0014_event_serial
Revises: 0013_golive
Create Date: 2026-12-01

Adds event.serial (unique index; stored with the district, "440112-2026-000123") and the counter
table event_serial_counter (one row per district and year). Existing events are numbered here in
the order they were reported, the year being the year reported in Asia/Shanghai, and the counters
are set to the last number given, so the next event created continues the sequence.
"""
from collections import defaultdict
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0014_event_serial'
down_revision = '0013_golive'
branch_labels = None
depends_on = None

TZ = ZoneInfo('Asia/Shanghai')


def _aware(value):  # type: ignore[no-untyped-def]
    """SQLite hands back text or naive datetimes (stored UTC); PostgreSQL aware ones."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _backfill() -> None:
    bind = op.get_bind()
    event = sa.table('event', sa.column('id', sa.Integer), sa.column('street_code', sa.String),
                     sa.column('reported_at', sa.DateTime), sa.column('serial', sa.String))
    counter = sa.table('event_serial_counter', sa.column('district_code', sa.String), sa.column('year', sa.Integer),
                       sa.column('last_value', sa.Integer))
    rows = bind.execute(sa.select(event.c.id, event.c.street_code, event.c.reported_at)
                        .order_by(event.c.reported_at, event.c.id)).all()
    last: dict[tuple[str, int], int] = defaultdict(int)
    updates = []
    for event_id, street_code, reported_at in rows:
        group = (street_code[:6], _aware(reported_at).astimezone(TZ).year)
        last[group] += 1
        updates.append({'event_id': event_id, 'serial_value': f'{group[0]}-{group[1]}-{last[group]:06d}'})
    if updates:
        bind.execute(event.update().where(event.c.id == sa.bindparam('event_id'))
                     .values(serial=sa.bindparam('serial_value')), updates)
        bind.execute(counter.insert(), [{'district_code': d, 'year': y, 'last_value': n} for (d, y), n in last.items()])


def upgrade() -> None:
    op.create_table('event_serial_counter',
                    sa.Column('district_code', sa.String(length=6), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('last_value', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('district_code', 'year'))
    op.add_column('event', sa.Column('serial', sa.String(length=18), nullable=True))
    _backfill()
    op.create_index('uq_event_serial', 'event', ['serial'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_event_serial', table_name='event')
    op.drop_column('event', 'serial')  # SQLite ≥ 3.35 drops a column in place (the table is spatial: no batch copy)
    op.drop_table('event_serial_counter')
