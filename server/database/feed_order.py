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

The same statement sends `NOTIFY gridops_feed, '<feed table>'`: PostgreSQL delivers it at COMMIT
(never for a rollback, once per transaction however many flushes repeat it), so the live feeds'
shared reader (server.feed_hub) wakes when rows are there to read and not before. In the process
that wrote, on either database, `on_commit` listeners hear of it at once too: on SQLite (one
machine, usually one process) the reader wakes at the commit instead of at its next poll.

A writer whose first statement under the lock can carry it (`lock_columns` in that statement, then
`taken`: the event serial's counter bump) saves the flush its own round trip: every round trip made
under the lock is one that every other writer of the feed waits for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain

from sqlalchemy import ColumnElement, event, func, select
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from server.database import signals
from server.database.singleton import advisory_key

CHANNEL = "gridops_feed"
_LOCK_KEYS: dict[type, tuple[int, str]] = {}  # class → (its feed's lock key, its feed's table)
_ON_COMMIT: list[Callable[[str], None]] = []
_WRITTEN = "gridops feeds written"  # Session.info key: the feed tables this transaction wrote
_SIGNALLED = "gridops signals to send"  # Session.info key: SQLite, notify_at_commit's payloads for other processes
_HELD = "gridops feed locks held"  # Session.info key: [(transaction, key)] taken by a caller's own statement


def on_commit(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call `listener(feed table)` after each commit in this process that wrote the feed's rows
    (in the committing thread); returns what removes it."""
    _ON_COMMIT.append(listener)
    return lambda: _ON_COMMIT.remove(listener)


def commit_ordered(feed: type, *parents: type) -> None:
    """Rows of `feed` (and changes to `parents`) are written one transaction at a time on PostgreSQL."""
    key = (advisory_key(f"feed {feed.__name__}"), str(feed.__tablename__))  # type: ignore[attr-defined]
    for cls in (feed, *parents):
        _LOCK_KEYS[cls] = key


def _lock_and_notify(session: Session, key: tuple[int, str]) -> None:
    session.execute(select(func.pg_advisory_xact_lock(key[0]), func.pg_notify(CHANNEL, key[1])))


def lock_feed(session: Session, feed: type) -> None:
    """Take `feed`'s lock now, for writers that insert its rows past the ORM (SQLAlchemy Core
    executemany: the device status intervals the ingester writes), so no before_flush sees them."""
    session.info.setdefault(_WRITTEN, set()).add(_LOCK_KEYS[feed][1])
    if session.get_bind().dialect.name == "postgresql":
        _lock_and_notify(session, _LOCK_KEYS[feed])


def notify_at_commit(session: Session, payload: str) -> None:
    """Tell every process at this transaction's commit (PostgreSQL NOTIFY on the feeds' channel; on
    SQLite a byte appended to the payload's signal file, server.database.signals; never for a
    rollback) and this process's `on_commit` listeners, with `payload` for a feed's table: the users'
    row cache (server.user_cache) hears of user changes this way. No lock is taken."""
    session.info.setdefault(_WRITTEN, set()).add(payload)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, payload)))
    else:
        session.info.setdefault(_SIGNALLED, set()).add(payload)


def lock_columns(feed: type) -> tuple[ColumnElement[None], ColumnElement[None]]:
    """The lock and notification of `feed` as columns, for a PostgreSQL statement to evaluate before
    its writes (from a subquery in its FROM: volatile calls there are always evaluated); call `taken`
    once that statement has run."""
    key, table = _LOCK_KEYS[feed]
    return func.pg_advisory_xact_lock(key), func.pg_notify(CHANNEL, table)


def taken(session: Session, feed: type) -> None:
    """`feed`'s lock was taken by a statement of the current transaction: the flushes skip it. Tied to
    that (sub)transaction: a rolled-back savepoint released the lock, and it is taken again."""
    key = _LOCK_KEYS[feed]
    session.info.setdefault(_WRITTEN, set()).add(key[1])
    held: list[tuple[SessionTransaction, tuple[int, str]]] = session.info.setdefault(_HELD, [])
    held.append((session.get_nested_transaction() or session.get_transaction(), key))  # type: ignore[arg-type]


def _held(session: Session) -> set[tuple[int, str]]:
    held = [(txn, key) for txn, key in session.info.get(_HELD, ()) if txn.is_active]
    session.info[_HELD] = held  # ended transactions forgotten
    return {key for _txn, key in held}


def _keys_for(objects: Iterable[object]) -> list[tuple[int, str]]:
    return sorted({key for obj in objects if (key := _LOCK_KEYS.get(type(obj))) is not None})


@event.listens_for(Session, "before_flush")
def _take_feed_locks(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    keys = _keys_for(chain(session.new, session.dirty, session.deleted))
    if keys:
        session.info.setdefault(_WRITTEN, set()).update(table for _, table in keys)
    if not keys or session.get_bind().dialect.name != "postgresql":
        return
    keys = [key for key in keys if key not in _held(session)]
    for key in keys:  # sorted: two feeds are always locked in the same order; re-taking one is harmless
        _lock_and_notify(session, key)


@event.listens_for(Session, "after_commit")
def _tell_listeners(session: Session) -> None:
    for payload in session.info.pop(_SIGNALLED, ()):  # SQLite: other processes first, as NOTIFY would
        if (path := signals.signal_path(session.get_bind().engine.url, payload)) is not None:
            signals.send(path)
    for table in session.info.pop(_WRITTEN, ()):
        for listener in _ON_COMMIT.copy():  # another thread may add or remove one meanwhile
            listener(table)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: object) -> None:
    session.info.pop(_WRITTEN, None)
    session.info.pop(_SIGNALLED, None)
