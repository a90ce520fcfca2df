"""Event numbers people can say on the phone: "2026-000123", one sequence per district and year.

The UUID stays the identity (phones make it, retries carry it); the serial is given by the server
when the event is created. The year is the year the event was reported, in Asia/Shanghai. Each
district-year has one counter row (`EventSerialCounter`), bumped by an INSERT … ON CONFLICT DO
UPDATE … RETURNING in the creating transaction: on PostgreSQL the row stays locked until that
transaction ends, so two creations never get the same number; on SQLite writers are serialised
anyway. The bump runs inside the savepoint that inserts the event, so a retry that loses the
uuid race rolls its number back with it. The stored value carries the district
("440112-2026-000123", unique index); documents of one district show it without.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gis.codes import district_of
from server.config import get_settings
from server.events.models import Event, EventSerialCounter

DIGITS = 6


def year_of(reported_at: datetime) -> int:
    return reported_at.astimezone(ZoneInfo(get_settings().timezone)).year


def key(district_code: str, year: int, number: int) -> str:
    return "-".join((district_code, str(year), str(number).zfill(DIGITS)))  # a label, not a division code


def shown(serial: str | None) -> str:
    """"440112-2026-000123" → "2026-000123"; "" for a row not numbered yet."""
    return serial.split("-", 1)[1] if serial else ""


def _bump_statement(dialect: str):  # type: ignore[no-untyped-def]
    """INSERT … ON CONFLICT DO UPDATE … RETURNING for a dialect, built once per process (see _bump)."""
    if dialect not in _BUMPS:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        counter = EventSerialCounter.__table__
        stmt = insert(counter).values(district_code=bindparam("district"), year=bindparam("year"),
                                      last_value=bindparam("by"))
        _BUMPS[dialect] = stmt.on_conflict_do_update(
            index_elements=[counter.c.district_code, counter.c.year],
            set_={"last_value": counter.c.last_value + bindparam("by")}).returning(counter.c.last_value)
    return _BUMPS[dialect]


_BUMPS: dict[str, Any] = {}


def _bump(db_session: Session, district_code: str, year: int, by: int = 1) -> int:
    """The counter after adding `by` (created at `by` if absent), atomically; the last number taken."""
    stmt = _bump_statement(db_session.get_bind().dialect.name)
    return int(db_session.execute(stmt, {"district": district_code, "year": year, "by": by}).scalar_one())


def next_serial(db_session: Session, street_code: str, reported_at: datetime) -> str:
    """The next number of the event's district and year; call inside the creating transaction."""
    district, year = district_of(street_code), year_of(reported_at)
    return key(district, year, _bump(db_session, district, year))


def backfill(db_session: Session) -> int:
    """Number every event that has no serial yet (bulk-loaded rows), in order reported; returns how many.

    Takes a block of numbers per district-year from the counter, so events created meanwhile
    through the API keep theirs.
    """
    rows = db_session.execute(select(Event.id, Event.street_code, Event.reported_at)
                              .where(Event.serial.is_(None)).order_by(Event.reported_at, Event.id)).all()
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for event_id, street_code, reported_at in rows:
        groups[district_of(street_code), year_of(reported_at)].append(event_id)
    updates = []
    for (district, year), ids in groups.items():
        last = _bump(db_session, district, year, by=len(ids))
        updates += [{"event_id": i, "serial": key(district, year, n)}
                    for i, n in zip(ids, range(last - len(ids) + 1, last + 1))]
    if updates:
        table = Event.__table__
        db_session.execute(update(table).where(table.c.id == bindparam("event_id"))
                           .values(serial=bindparam("serial")), updates)
    return len(updates)
