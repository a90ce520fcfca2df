"""The users that tokens name, kept in memory on PostgreSQL, so a request does not read its user.

Every authenticated request needs its user's row (role, territory, is_active, token_version). Read
from the database each time, it was the most expensive single step of a `POST /events` after the
write itself: a worker thread, a session, a statement (bench/bench_request_cpu.py, README: Event
submission). Here it is read once and kept, and every change to a user row empties every process's
copy at once:

- a flush that writes a user row sends `NOTIFY gridops_feed, 'user'` in its transaction
  (server.auth.models), which PostgreSQL delivers at the commit to every process, whoever wrote it
  (a server, `gridops users disable`); each process's LISTEN thread (server.database.listen, as the
  live feeds use, with a connection of its own: one more per server process) empties its cache when
  it arrives;
- in the committing process, the commit empties it before the commit returns (feed_order.on_commit).

The cache answers only while its LISTEN connection is in force (after a reconnect it starts empty:
notifications sent meanwhile were lost), and a row read before a change is never kept after it (a
generation counter: a read that started before an emptying is not stored). A change made past the
ORM (SQL typed in psql) sends no notification: entries also expire after TTL_S, the fallback.

SQLite has no way to tell other processes (the CLI disabling a user while `gridops serve` runs), so
there users are read on every request, as before.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, inspect, make_url
from sqlalchemy.orm import make_transient_to_detached

from server.auth.models import USER_CHANGED, User
from server.config import get_settings
from server.database.feed_order import on_commit
from server.database.listen import ANY_FEED, Listener

TTL_S = 30.0  # the fallback for changes that send no notification (not made through the ORM)
_COLUMNS = tuple(attr.key for attr in inspect(User).column_attrs)


class UserCache:
    """username → the user's column values, while the notifications of user changes are heard."""

    def __init__(self, listener_url: Any, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._listener = Listener(listener_url, self._heard, name="gridops-user-listen")
        self._started = False
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
        if not self._started:
            with self._lock:
                if not self._started:
                    self._listener.start()
                    self._started = True
        return self._listener.connected.is_set()

    def generation(self) -> int:
        """Take it before reading a user, and give it to `put`."""
        return self._generation

    def get(self, username: str) -> User | None:
        """A detached User of its own for this request (nobody shares the object), or None: read it."""
        if not self.listening:
            return None
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
            if generation == self._generation and self._listener.connected.is_set():
                self._entries[user.username] = (time.monotonic() + self.ttl_s, values)

    def stop(self) -> None:
        self._forget()
        if self._started:
            self._listener.stop()


@lru_cache
def for_engine(engine: Engine) -> UserCache | None:
    """The process's cache for the server's database; None on SQLite (see the module's docstring)."""
    if engine.dialect.name != "postgresql":
        return None
    direct = get_settings().database_direct_url  # LISTEN past a transaction-mode PgBouncer (required there)
    return UserCache(make_url(direct) if direct else engine.url)
