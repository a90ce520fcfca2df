"""Event numbers people can say on the phone: "2026-000123", one sequence per district and year.

The UUID stays the identity (phones make it, retries carry it); the serial is given by the server
when the event is created. The year is the year the event was reported, in Asia/Shanghai. Each
district-year has one counter row (`EventSerialCounter`), bumped by an INSERT … ON CONFLICT DO
UPDATE … RETURNING in the creating transaction: on PostgreSQL the row stays locked until that
transaction ends, so two creations never get the same number; on SQLite writers are serialised
anyway. The bump is written together with the event (one statement on PostgreSQL, one savepoint on
SQLite), so a retry that loses the uuid race rolls its number back with it. The stored value carries the district
("440112-2026-000123", unique index); documents of one district show it without.

On PostgreSQL the bump of a creation also takes the event feed's commit-order lock (feed_order) in
the same statement, first: every report of a district queues on the counter's row and every report
on that lock, and each round trip made while holding them is one the queue waits for (bench_events).
Lock order is the feed's lock, then the counter row, as for every writer of the feed.

On PostgreSQL a report goes further (`insert_numbered`): the feed's lock, the bump, the event and its
history row are ONE statement (data-modifying CTEs, each reading the one before, so the lock is
taken before the counter's row and before the history id is drawn), then the commit: two round trips
under the locks instead of four. SQLite cannot write in a CTE and holds one writer anyway: in the
event's savepoint it bumps, then inserts the two rows (SQLAlchemy Core, not the ORM's flush).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, bindparam, cast, func, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql import Executable

from gis.codes import district_of
from server.config import get_settings
from server.database import feed_order
from server.events.models import Event, EventHistory, EventSerialCounter

DIGITS = 6


def year_of(reported_at: datetime) -> int:
    return reported_at.astimezone(ZoneInfo(get_settings().timezone)).year


def key(district_code: str, year: int, number: int) -> str:
    return "-".join((district_code, str(year), str(number).zfill(DIGITS)))  # a label, not a division code


def shown(serial: str | None) -> str:
    """"440112-2026-000123" → "2026-000123"; "" for a row not numbered yet."""
    return serial.split("-", 1)[1] if serial else ""


@cache
def _bump_statement(dialect: str, feed_locked: bool = False):  # type: ignore[no-untyped-def]
    """INSERT … ON CONFLICT DO UPDATE … RETURNING for a dialect, built once per process (see _bump).

    `feed_locked` (PostgreSQL): the inserted row is selected from the event feed's advisory lock (and
    its NOTIFY), so the lock is taken before the counter's row is (a volatile call in FROM is always
    evaluated)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    counter = EventSerialCounter.__table__
    values = (bindparam("district", type_=counter.c.district_code.type), bindparam("year", type_=counter.c.year.type),
              bindparam("by", type_=counter.c.last_value.type))
    if feed_locked:
        locked, notified = feed_order.lock_columns(EventHistory)
        lock = select(locked.label("locked"), notified.label("notified")).subquery("feed_lock")
        stmt = insert(counter).from_select(["district_code", "year", "last_value"],
                                           select(*values).select_from(lock))
    else:
        stmt = insert(counter).values(district_code=values[0], year=values[1], last_value=values[2])
    return stmt.on_conflict_do_update(
        index_elements=[counter.c.district_code, counter.c.year],
        set_={"last_value": counter.c.last_value + bindparam("by")}).returning(counter.c.last_value)


def _bump(db_session: Session, district_code: str, year: int, by: int = 1, feed_locked: bool = False) -> int:
    """The counter after adding `by` (created at `by` if absent), atomically; the last number taken."""
    stmt = _bump_statement(db_session.get_bind().dialect.name, feed_locked)
    return int(db_session.execute(stmt, {"district": district_code, "year": year, "by": by}).scalar_one())


def _columns(table: Any) -> list[Any]:
    """The columns a report writes: all but the id (drawn by the statement) and the serial (computed)."""
    return [c for c in table.columns if not c.primary_key and c.key != "serial"]


@cache
def _numbered_statement() -> Executable:
    """WITH bump (the feed-locked counter bump), ev (INSERT event … SELECT … FROM bump), hist
    (INSERT event_history … SELECT … FROM ev) SELECT both ids: built once per process. Each INSERT
    selects from the statement before it, so its row (and its id from the sequence) is made only
    after the locks are held; the event's values are bound as `e_<column>`, the history's as
    `h_<column>`."""
    events, history = Event.__table__, EventHistory.__table__
    bump = _bump_statement("postgresql", feed_locked=True).cte("bump")
    number = cast(bump.c.last_value, Text)
    serial = func.concat(bindparam("district"), "-", cast(bindparam("year"), Text), "-",
                         func.lpad(number, func.greatest(DIGITS, func.length(number)), "0"))  # = key()
    ev_cols = _columns(events)
    ev = insert(events).from_select(
        [*(c.key for c in ev_cols), "serial"],
        select(*(bindparam(f"e_{c.key}", type_=c.type) for c in ev_cols), serial).select_from(bump),
    ).returning(events.c.id, events.c.serial).cte("ev")
    hist_cols = [c for c in _columns(history) if c.key != "event_id"]
    hist = insert(history).from_select(
        ["event_id", *(c.key for c in hist_cols)],
        select(ev.c.id, *(bindparam(f"h_{c.key}", type_=c.type) for c in hist_cols)).select_from(ev),
    ).returning(history.c.id, history.c.event_id).cte("hist")
    return select(ev.c.id, ev.c.serial, hist.c.id.label("history_id")).select_from(
        ev.join(hist, hist.c.event_id == ev.c.id))


def _values(obj: object, columns: list[Any], prefix: str) -> dict[str, Any]:
    """The row of a transient object, every column set on it (None or the column's scalar default if
    not), so that once persistent none of its attributes is expired and none is read back."""
    mapper = inspect(obj).mapper
    row = {}
    for column in columns:
        attr = mapper.get_property_by_column(column).key
        if attr not in obj.__dict__:
            default = column.default
            if default is not None and not default.is_scalar:
                raise ValueError(f"{column.table.name}.{column.key} must be set: its default is computed")
            setattr(obj, attr, default.arg if default is not None else None)
        row[f"{prefix}{column.key}"] = getattr(obj, attr)
    return row


def insert_numbered(db_session: Session, event: Event, history: EventHistory) -> None:
    """Number `event` and insert it with `history` (its `create` row); both become persistent in the
    session, as if flushed. On PostgreSQL one statement under the event feed's lock (see the module);
    on SQLite, whose writers hold the one write lock already, the bump and two INSERT … RETURNING.

    The two are transient and not linked by their relationship (the event's id is the statement's).
    A uuid already taken raises IntegrityError and writes nothing on PostgreSQL (no number is used
    up); on SQLite the bump before it is the caller's to roll back (a savepoint)."""
    district, year = district_of(event.street_code), year_of(event.reported_at)
    ev_cols, hist_cols = _columns(Event.__table__), [c for c in _columns(EventHistory.__table__) if c.key != "event_id"]
    if db_session.get_bind().dialect.name == "postgresql":
        params = {"district": district, "year": year, "by": 1,
                  **_values(event, ev_cols, "e_"), **_values(history, hist_cols, "h_")}
        event_id, event.serial, history_id = db_session.execute(_numbered_statement(), params).one()
        feed_order.taken(db_session, EventHistory)
    else:  # Core, not a flush: the unit of work was a tenth of a SQLite report's server time (py-spy)
        event.serial = key(district, year, _bump(db_session, district, year))
        event_id = db_session.execute(_inserted(Event), {**_values(event, ev_cols, ""), "serial": event.serial}).scalar_one()
        history_id = db_session.execute(_inserted(EventHistory),
                                        {**_values(history, hist_cols, ""), "event_id": event_id}).scalar_one()
        feed_order.lock_feed(db_session, EventHistory)  # no lock on SQLite: the commit wakes the feeds
    event.id, history.id, history.event_id = event_id, history_id, event_id
    for obj in (event, history):
        make_transient_to_detached(obj)
        db_session.add(obj)


@cache
def _inserted(cls: type) -> Executable:
    """INSERT … RETURNING id of a mapped class's table, built once (SQLite)."""
    table = cls.__table__  # type: ignore[attr-defined]
    return insert(table).returning(table.c.id)


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
