"""The users that tokens name, kept in memory, so a request does not read its user.

Every authenticated request needs its user's row (role, territory, is_active, token_version). Read
from the database each time, it was the most expensive single step of a `POST /events` after the
write itself: a worker thread, a session, a statement (bench/bench_request_cpu.py, README: Event
submission). Here it is read once and kept, and every change to a user row empties every process's
copy at once: a flush that writes a user row tells every process at its commit, whoever wrote it (a
server, `gridops users disable`; server.auth.models, feed_order.notify_at_commit):

- PostgreSQL: `NOTIFY gridops_feed, 'user'`, heard by each process's LISTEN thread
  (server.database.listen, as the live feeds use, with a connection of its own: one more per server
  process); the cache answers only while that connection is in force (after a reconnect it starts
  empty: notifications sent meanwhile were lost);
- SQLite: a byte appended to the database's signal file (server.database.signals), which every
  lookup compares with what it saw last (a stat, a few microseconds) before it answers;
- in the committing process, the commit empties it before the commit returns (feed_order.on_commit).

A row read before a change is never kept after it (a generation counter: a read that started before
an emptying is not stored). A change made past the ORM (SQL typed in psql or sqlite3) tells nobody:
entries also expire after TTL_S, the fallback. An in-memory SQLite database has no other process and
no file: its users are read on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, make_url
from sqlalchemy.orm import make_transient_to_detached

from server.auth.models import USER_CHANGED, User
from server.config import get_settings
from server.database import signals
from server.database.feed_order import on_commit
from server.database.listen import ANY_FEED, Listener

TTL_S = 30.0  # the fallback for changes that send no notification (not made through the ORM)
_COLUMNS = tuple(attr.key for attr in inspect(User).column_attrs)


class _SignalFile:
    """SQLite: a change in another process is a byte appended to the database's signal file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen = signals.mark(path)

    def in_force(self) -> bool:
        return True  # every look reads the file

    def changed(self) -> bool:
        """Whether the file moved since the last look (the caller holds the cache's lock)."""
        now = signals.mark(self._path)
        if now == self._seen:
            return False
        self._seen = now
        return True

    def stop(self) -> None:
        pass


class _Listen:
    """PostgreSQL: LISTEN in a thread of its own, started at the first look; each NOTIFY of a user
    change empties the cache as it arrives, so a look finds nothing to report."""

    def __init__(self, url: Any, on_notify: Callable[[str], None]) -> None:
        self._listener = Listener(url, on_notify, name="gridops-user-listen")
        self._start = threading.Lock()
        self._started = False

    def in_force(self) -> bool:
        """Whether notifications are heard now: the cache answers only then."""
        if not self._started:
            with self._start:
                if not self._started:
                    self._listener.start()
                    self._started = True
        return self._listener.connected.is_set()

    def changed(self) -> bool:
        return False

    def stop(self) -> None:
        if self._started:
            self._listener.stop()


class UserCache:
    """username → the user's column values, while the notifications of user changes are heard."""

    def __init__(self, listener_url: Any = None, ttl_s: float = TTL_S, *, signal_file: Path | None = None) -> None:
        """PostgreSQL: `listener_url`, the database to LISTEN on; SQLite: `signal_file`, the file a
        commit that changes users appends to (server.database.signals)."""
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._watch = _SignalFile(signal_file) if signal_file is not None else _Listen(listener_url, self._heard)
        self._forget = on_commit(self._heard)

    def _heard(self, payload: str) -> None:
        if payload in (USER_CHANGED, ANY_FEED):  # ANY_FEED: LISTEN (re)connected, anything may have changed
            self.invalidate()

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    @property
    def listening(self) -> bool:
        return self._watch.in_force()

    def generation(self) -> int:
        """Take it before reading a user, and give it to `put`."""
        return self._generation

    def get(self, username: str) -> User | None:
        """A detached User of its own for this request (nobody shares the object), or None: read it."""
        if not self._watch.in_force():
            return None
        with self._lock:  # a look that finds a change empties the cache before any other look answers
            if self._watch.changed():
                self._generation += 1
                self._entries.clear()
            entry = self._entries.get(username)
        if entry is None or entry[0] <= time.monotonic():
            return None
        user = User(**entry[1])
        make_transient_to_detached(user)  # as if loaded by a session since closed: no pending changes
        return user

    def put(self, user: User, generation: int) -> None:
        """Keep `user`, read after `generation()` returned `generation`, unless a change came since."""
        values = {key: getattr(user, key) for key in _COLUMNS}
        with self._lock:
            if generation == self._generation and self._watch.in_force():
                self._entries[user.username] = (time.monotonic() + self.ttl_s, values)

    def stop(self) -> None:
        self._forget()
        self._watch.stop()


@lru_cache
def for_engine(engine: Engine) -> UserCache | None:
    """The process's cache for the server's database; None for an in-memory SQLite database."""
    if engine.dialect.name == "sqlite":
        path = signals.signal_path(engine.url, USER_CHANGED)
        return UserCache(signal_file=path) if path is not None else None
    direct = get_settings().database_direct_url  # LISTEN past a transaction-mode PgBouncer (required there)
    return UserCache(make_url(direct) if direct else engine.url)
