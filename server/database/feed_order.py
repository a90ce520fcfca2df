"""Feed cursors handed out in commit order on PostgreSQL.

The event feed and `/events/changes` read rows with `id > cursor`. On PostgreSQL a sequence value is
taken at INSERT, not at COMMIT: while transaction A holds id 100 uncommitted, B may commit 101, a
reader sees 101 and moves its cursor past 100 for good (the live-feed test caught one such loss in
48 events). So every transaction that writes a feed's rows first takes that feed's transaction-scoped
advisory lock, in the flush before its first INSERT: ids of one feed are then taken and committed one
transaction at a time, and a reader can never see a later id before an earlier one.

The lock is also taken by flushes that change the feed's parent rows (an event's own row), so every
such transaction takes the advisory lock before any row lock of that table: the two locks are always
taken in the same order and cannot deadlock. SQLite has one writer anyway and needs none of this.

A writer whose first statement under the lock can carry it (`lock_expression` in that statement,
then `taken`: the event serial's counter bump) saves the flush its own round trip: every round trip
made under the lock is one that every other writer of the feed waits for.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

from sqlalchemy import ColumnElement, event, func, select
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from server.database.singleton import advisory_key

_LOCK_KEYS: dict[type, int] = {}
_HELD = "feed_order.held"  # Session.info: [(transaction, key)] of locks taken by a caller's own statement


def commit_ordered(feed: type, *parents: type) -> None:
    """Rows of `feed` (and changes to `parents`) are written one transaction at a time on PostgreSQL."""
    key = advisory_key(f"feed {feed.__name__}")
    for cls in (feed, *parents):
        _LOCK_KEYS[cls] = key


def lock_feed(session: Session, feed: type) -> None:
    """Take `feed`'s lock now, for writers that insert its rows past the ORM (SQLAlchemy Core
    executemany: the device status intervals the ingester writes), so no before_flush sees them."""
    key = _LOCK_KEYS[feed]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(key)))


def lock_expression(feed: type) -> ColumnElement[None]:
    """`pg_advisory_xact_lock` of `feed`'s lock, for a PostgreSQL statement to evaluate before its writes;
    call `taken` once that statement has run."""
    return func.pg_advisory_xact_lock(_LOCK_KEYS[feed])


def taken(session: Session, feed: type) -> None:
    """`feed`'s lock was taken by a statement of the current transaction: the flushes skip it. Tied to
    that (sub)transaction: a rolled-back savepoint released the lock, and it is taken again."""
    held: list[tuple[SessionTransaction, int]] = session.info.setdefault(_HELD, [])
    held.append((session.get_nested_transaction() or session.get_transaction(), _LOCK_KEYS[feed]))  # type: ignore[arg-type]


def _held(session: Session) -> set[int]:
    held = [(txn, key) for txn, key in session.info.get(_HELD, ()) if txn.is_active]
    session.info[_HELD] = held  # ended transactions forgotten
    return {key for _txn, key in held}


def _keys_for(objects: Iterable[object]) -> list[int]:
    return sorted({key for obj in objects if (key := _LOCK_KEYS.get(type(obj))) is not None})


@event.listens_for(Session, "before_flush")
def _take_feed_locks(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    keys = _keys_for(chain(session.new, session.dirty, session.deleted))
    if not keys or session.get_bind().dialect.name != "postgresql":
        return
    keys = [key for key in keys if key not in _held(session)]
    for key in keys:  # sorted: two feeds are always locked in the same order; re-taking one is harmless
        session.execute(select(func.pg_advisory_xact_lock(key)))
