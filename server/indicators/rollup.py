"""Partial pre-aggregation of the event indicators: every event that has not changed for a while
is summed once into event_rollup, and the statistics read only the others row by row.

Why: at city scale (10 M events a year) the event statement's per-row work (case and closure
counts, the reporter's role, two quality scores) is what costs, not the plan (README: bench_city).

What may be rolled up: an event's sums depend on its row alone (and its reporter's role, below),
never on `now` (overdue-ness is not summed: `closed_on_time` is stamped at closure). So any event
can be rolled up, open or final, once it has not changed for SETTLE (fresh events are about to
move on: rolling them up at once would only take them out again). Each cell is (street, grid, local
month reported, local month closed or ''), so a period of whole months counts the closures of the
months up to its last one, which is "closed before the period ended". Weeks and other date ranges
keep the live path.

Kept current: a write that changes a column the sums read takes the event out of its cell in the
writer's transaction (`unroll_changed`, called for every ORM flush by server.indicators.models,
which also refuses Session-executed bulk UPDATEs and DELETEs of those columns); the next run rolls
it up again.
SUMMED, the columns watched, is read off the sums' SQL, so a new sum cannot be forgotten there.

Fixed when rolled up, and compared again by `check` (gridops metrics check-rollup):
- whether the reporter is a grid worker (worker_reports): a change of a user's role through the
  ORM takes their reports out first (`unroll_reports_of`); one made behind its back (SQL by hand)
  does not, and the check, recomputing with today's roles, reports the cells;
- the quality scores: the rules' hash is kept (event_rollup_state); with other rules in force every
  statistic reads all the events until the next `gridops metrics rollup` rebuilds the rollup.

Safe beside writers: a batch locks the events it takes (FOR UPDATE SKIP LOCKED on PostgreSQL;
SQLite has one writer at a time), sums exactly those ids and marks them in the same transaction; a
writer locks its event row before it looks at `rolled_up` (so it waits for a batch holding it and
then sees it rolled up), then the cell: both take event rows first, cells second. Running it twice
adds nothing (only unmarked events are taken); `only_one` keeps the job single.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    String,
    delete,
    false,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.sql import visitors
from sqlalchemy.sql.functions import FunctionElement

from server.events.models import Event
from server.indicators.event_queries import event_sums, in_scope, rules_in_force
from server.indicators.models import EventRollup, RollupState
from server.indicators.periods import Scope

SETTLE = timedelta(minutes=10)  # an event unchanged for this long is rolled up by the next run
SUMS = ("events", "cases", "closed", "closed_on_time", "rated", "satisfied", "worker_reports", "score", "score_60")
KEYS = ("street_code", "grid_id", "reported_month", "closed_month")
CHUNK = 5000  # ids per statement (SQLite's limit of bound parameters)


class local_month(FunctionElement[str]):
    """YYYY-MM of a UTC timestamp in Asia/Shanghai. SQLite has no time zones: +8 hours, which is
    Shanghai's offset since 1991 (no daylight saving since); PostgreSQL uses the zone database."""

    type = String()
    inherit_cache = True


@compiles(local_month, "postgresql")
def _pg_month(element: local_month, compiler: Any, **kw: Any) -> str:
    return f"to_char(timezone('Asia/Shanghai', {compiler.process(element.clauses, **kw)}), 'YYYY-MM')"


@compiles(local_month, "sqlite")
def _sqlite_month(element: local_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+8 hours')"


def _grouped(where: ColumnElement[bool]) -> Select[Any]:
    """The cells of the events selected by `where`, computed from the events as the live path does."""
    sums = event_sums(true())
    keys = (Event.street_code, Event.grid_id, local_month(Event.reported_at),
            func.coalesce(local_month(Event.closed_at), ""))
    return select(*keys, *(sums[n]() for n in SUMS)).where(where).group_by(*keys)


@lru_cache(maxsize=4)
def _summed(rules: str) -> frozenset[str]:
    table = Event.__table__
    columns = {el for el in visitors.iterate(_grouped(true())) if isinstance(el, Column) and el.table is table}
    return frozenset(c.name for c in columns)


def summed() -> frozenset[str]:
    """The event columns a cell's keys and sums read, under the quality rules in force: a change to
    any of them moves a rolled-up event's sums, one to any other column (the sweep's overdue flags,
    the serial) does not."""
    return _summed(rules_in_force())


def _cells_of(db_session: Session, where: ColumnElement[bool]) -> dict[tuple[Any, ...], tuple[float, ...]]:
    return {tuple(r[:4]): tuple(float(v or 0) for v in r[4:]) for r in db_session.execute(_grouped(where))}


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _is_postgresql(db_session: Session) -> bool:
    return db_session.get_bind().dialect.name == "postgresql"


def _upsert(db_session: Session, select_from: Select[Any] | None = None) -> Any:
    """INSERT into the rollup's cells that adds to a cell already there (from rows, or a SELECT)."""
    insert = postgresql.insert if _is_postgresql(db_session) else sqlite.insert
    table = EventRollup.__table__
    stmt = insert(table) if select_from is None else insert(table).from_select([*KEYS, *SUMS], select_from)
    return stmt.on_conflict_do_update(index_elements=[table.c[k] for k in KEYS],
                                      set_={n: table.c[n] + stmt.excluded[n] for n in SUMS})


def _add(db_session: Session, cells: dict[tuple[Any, ...], tuple[float, ...]]) -> None:
    """Add the sums to the rollup's cells (created when new): one upsert for all of them."""
    if cells:
        db_session.execute(_upsert(db_session), [dict(zip(KEYS, k, strict=True)) | dict(zip(SUMS, v, strict=True))
                                                 for k, v in cells.items()])


def unroll(db_session: Session, event_id: int) -> None:
    """Take a rolled-up event's sums, as stored in its row now, out of its cell (the caller marks it live)."""
    with db_session.no_autoflush:  # the row as it was summed, not the change being made
        cells = _cells_of(db_session, (Event.id == event_id) & (Event.rolled_up == true()))
    _add(db_session, {k: tuple(-v for v in sums) for k, sums in cells.items()})


def unroll_changed(db_session: Session, event: Event) -> None:
    """Before a write of summed columns: lock the event's row and, if it is rolled up, take its
    sums (the row as stored, not the change being flushed) out of its cell and mark it live. The
    lock comes first so that a batch rolling it up now is waited for, then seen."""
    with db_session.no_autoflush:
        rolled = db_session.scalar(select(Event.rolled_up).where(Event.id == event.id).with_for_update())
    if rolled:
        unroll(db_session, event.id)
        event.rolled_up = False
        flag_modified(event, "rolled_up")  # the loaded value may be the stale False: write it anyway


def unroll_reports_of(db_session: Session, user_id: int) -> int:
    """Before a user's role changes: their rolled-up reports counted as a grid worker's or not
    (worker_reports) by the role they had; take them all out (locked first, as above), and the next
    run sums them with the new one. Rare (a role is not changed by any request), so set-based."""
    with db_session.no_autoflush:
        ids = list(db_session.scalars(select(Event.id).where(Event.reporter_id == user_id, Event.rolled_up == true())
                                      .order_by(Event.id).with_for_update()))
        for chunk in _chunks(ids):
            cells = _cells_of(db_session, Event.id.in_(chunk))
            _add(db_session, {k: tuple(-v for v in sums) for k, sums in cells.items()})
            db_session.execute(update(Event).where(Event.id.in_(chunk)).values(rolled_up=False))
    return len(ids)


def prepare(db_session: Session, now: datetime) -> bool:
    """Make the rollup match the quality rules in force; True when it had to be emptied (the rules
    changed: every event is live again and the batches roll them up anew)."""
    current = rules_in_force()
    state = db_session.get(RollupState, 1)
    if state is None:
        db_session.add(RollupState(id=1, rule_hash=current, rolled_at=now))
        db_session.flush()
        return False
    if state.rule_hash == current:
        return False
    db_session.execute(delete(EventRollup))
    db_session.execute(update(Event).where(Event.rolled_up == true()).values(rolled_up=False))
    state.rule_hash, state.rolled_at = current, now
    db_session.flush()
    return True


def roll_up_batch(db_session: Session, now: datetime, limit: int = 50_000) -> int:
    """Sum up to `limit` events not yet rolled up and unchanged for SETTLE into the rollup and mark
    them; the caller commits. Returns how many were taken (0: nothing left)."""
    ids = list(db_session.scalars(
        select(Event.id).where(Event.rolled_up == false(), Event.updated_at < now - SETTLE).order_by(Event.id)
        .limit(limit).with_for_update(skip_locked=True)))
    cells: dict[tuple[Any, ...], list[float]] = {}
    for chunk in _chunks(ids):
        for key, sums in _cells_of(db_session, Event.id.in_(chunk)).items():
            cell = cells.setdefault(key, [0.0] * len(SUMS))
            for i, v in enumerate(sums):
                cell[i] += v
        db_session.execute(update(Event).where(Event.id.in_(chunk)).values(rolled_up=True))
    _add(db_session, {k: tuple(v) for k, v in cells.items()})
    if ids:
        db_session.execute(update(RollupState).where(RollupState.id == 1).values(rolled_at=now))
    return len(ids)


def roll_up_all(db_session: Session, now: datetime) -> int:
    """Every settled event not yet rolled up in two statements, a grouped INSERT … SELECT and one
    UPDATE, instead of batches of ids: for the first run on a database that already holds millions
    of events (an existing system migrated), where the batches rewrite row after row through every
    index at random (README: bench_city). Writers wait until the caller commits: the event table is
    locked against writes on PostgreSQL (EXCLUSIVE: reads go on; it is taken before any row lock,
    so it cannot deadlock with a writer), SQLite has one writer anyway. Returns how many were taken."""
    if _is_postgresql(db_session):
        db_session.execute(text("LOCK TABLE event IN EXCLUSIVE MODE"))
    due = (Event.rolled_up == false()) & (Event.updated_at < now - SETTLE)
    db_session.execute(_upsert(db_session, _grouped(due)))
    taken = db_session.execute(update(Event).where(due).values(rolled_up=True)).rowcount
    db_session.execute(update(RollupState).where(RollupState.id == 1).values(rolled_at=now))
    return int(taken)


@dataclass(frozen=True)
class Difference:
    cell: tuple[Any, ...]  # street, grid id, month reported, month closed
    column: str
    rollup: float
    events: float

    def __str__(self) -> str:
        street, grid, reported, closed = self.cell
        return (f"street {street} grid {grid} reported {reported} closed {closed or '-'}: {self.column} "
                f"rollup {self.rollup:g}, from the events {self.events:g}")


def check(db_session: Session, scope: Scope | None = None) -> list[Difference | str]:
    """Every cell of the rollup against the same sums recomputed from the rolled-up events with
    today's roles and rules: the differences (none when the rollup is sound), or one line when the
    rollup was made with other quality rules (unused until rebuilt)."""
    problems: list[Difference | str] = []
    state = db_session.get(RollupState, 1)
    if state is not None and state.rule_hash != rules_in_force():  # its scores cannot match: nothing to compare
        return [("the rollup was made with other quality rules than those in force: the statistics read "
                 "every event until `gridops metrics rollup` rebuilds it")]
    where = Event.rolled_up == true()
    r = EventRollup
    stored_where: ColumnElement[bool] = true()
    if scope is not None:
        where = where & in_scope(scope, Event.street_code, Event.grid_id)
        stored_where = in_scope(scope, r.street_code, r.grid_id)
    expected = _cells_of(db_session, where)
    stored = {tuple(row[:4]): tuple(float(v) for v in row[4:]) for row in db_session.execute(
        select(*(getattr(r, k) for k in KEYS), *(getattr(r, n) for n in SUMS)).where(stored_where))}
    zero = (0.0,) * len(SUMS)
    for key in sorted(expected.keys() | stored.keys(), key=lambda k: tuple(map(str, k))):
        have, want = stored.get(key, zero), expected.get(key, zero)
        problems += [Difference(key, n, a, b) for n, a, b in zip(SUMS, have, want, strict=True)
                     if abs(a - b) > 1e-6 * max(1.0, abs(b))]
    return problems
