"""One reader per live feed per server process, fanning new rows out to every open stream.

Before, each open SSE stream polled on its own: every second a session, its user, its rows; 2,000
dashboards were 2,000 polls a second, most of them finding nothing. Now the hub of a feed wakes
(PostgreSQL: a NOTIFY sent at the commit of every transaction writing the feed's rows, see
server.database.feed_order, with a poll every FALLBACK_S in case one is missed; SQLite: every
`poll` seconds, the smallest any open stream asked for), looks at the feed's largest cursor (one
indexed `max(id)`), and only when it moved reads the new rows.

Territory: the rows are read in SQL with the same rule as before (the feed's `read`, as the
user), once per *territory* among the open streams, not once per stream: streams whose users have
the same territory (a district's command center on 500 screens, a street's staff) share a group,
one read and one JSON encoding per row. The rule cannot drift from the list endpoints' (it is the
same SQL), so a user never receives a row outside their territory; a grid worker's territory is
their own (their assignments at the moment of the read, evaluated in SQL on each read).

What the per-poll user check did (a disabled user, a reset password: the stream ends) is done for
all streams at once every RECHECK_S = 30 s, one query for every user with a stream open: a revoked
user keeps an open stream at most 30 s (+ one wake-up), where the token they hold already stops
working on every other request at once. 30 s because it is far under a token's life (12 h) and a
dashboard's reconnect, and costs one query per 30 s for 2,000 streams. A user whose role or area
changed has their stream ended too: the browser reconnects and resumes, in its new territory.

A stream first reads its own backlog (pages of server.sse.PAGE after its cursor, as before) and
only then takes what the hub sends; it joins its group *before* reading the backlog and drops
what it already sent, so there is neither a gap nor a duplicate: the group sends every row after
its cursor, which was committed before the backlog was read (feed ids are committed in order).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import make_url, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from server.auth.models import User
from server.config import get_settings
from server.database.core import is_busy
from server.database.feed_order import on_commit
from server.database.listen import ANY_FEED, Listener
from server.database.types import utcnow
from server.territory import territory

log = logging.getLogger(__name__)

RECHECK_S = 30.0
FALLBACK_S = 5.0  # PostgreSQL: a poll this often in case a notification was lost
MIN_GAP_S = 0.1  # between two reads: 100 commits a second wake the reader 10 times, not 100
ERROR_PAUSE_S = 1.0
PAGE = 500  # rows per read, as the feeds' backlog pages
Message = tuple[int, str, dict[str, Any]]  # (cursor, event name, data)
Read = Callable[[Session, User, int, datetime], list[Message]]
Scope = Callable[[], AbstractContextManager[Session]]
Chunk = tuple[int, str]  # (cursor, the message as SSE text)


def sse_text(cursor: int, name: str, data: dict[str, Any]) -> str:
    return f"id: {cursor}\nevent: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@dataclass(frozen=True)
class Feed:
    """What a hub needs of a feed: its table (the NOTIFY payload), its rows after a cursor as one
    user sees them, and its largest cursor."""

    table: str
    read: Read
    last: Callable[[Session], int]


def territory_key(user: User, at: datetime) -> Hashable:
    """Users with equal keys see the same rows of every feed (the feeds' reads use the user only
    through server.territory.territory: a worker's key is their own id)."""
    t = territory(user, at)
    return (t.prefix, t.worker_id, t.district_wide, t.everything)


@dataclass(eq=False)
class Subscriber:
    user: User
    key: Hashable
    every: float  # the `poll` the stream asked for (SQLite: how often the hub looks)
    chunks: deque[Chunk] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False  # the user was disabled, reset or moved: the stream ends

    def push(self, chunks: list[Chunk]) -> None:
        self.chunks.extend(chunks)
        self.ready.set()

    def end(self) -> None:
        self.ended = True
        self.ready.set()

    async def next(self, timeout: float) -> list[Chunk] | None:
        """What arrived (possibly nothing, after `timeout`); None once the stream must end."""
        if not self.chunks and not self.ended:
            try:
                await asyncio.wait_for(self.ready.wait(), timeout)
            except TimeoutError:
                pass
        self.ready.clear()
        if self.ended:
            return None
        out = list(self.chunks)
        self.chunks.clear()
        return out


@dataclass(eq=False)
class _Group:
    user: User  # any member: they all see the same rows
    cursor: int  # every row of the territory up to here was sent to the members
    members: set[Subscriber] = field(default_factory=set)


@dataclass
class _Found:
    high: int
    rows: dict[Hashable, tuple[int, list[Message]]]  # territory → (its new cursor, its rows)
    users: dict[int, User] | None  # the streams' users as now stored, when rechecked


class FeedHub:
    """The shared reader of one feed in one server process (and one event loop)."""

    def __init__(self, feed: Feed, scope: Scope) -> None:
        self.feed = feed
        self._scope = scope
        self.reads = 0  # statements the reader ran (the bench and tests count them)
        self.wakes = 0  # times it looked for new rows
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self._groups: dict[Hashable, _Group] = {}
        self._high: int | None = None
        self._wake = asyncio.Event()
        self._next_check = time.monotonic() + RECHECK_S
        self._listener: Listener | None = None
        self._stopping = False

    @property
    def subscribers(self) -> Iterator[Subscriber]:
        for g in self._groups.values():
            yield from g.members

    async def join(self, user: User, every: float) -> Subscriber:
        """A stream's place in the hub; rows after the group's cursor are pushed to it from now on."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done() or self._stopping:
            self._loop = loop  # a new loop (a test client's), or the reader stopped with its last stream
            self._reset()
            self._ready = loop.create_future()
            self._task = loop.create_task(self._run(self._ready), name=f"feed hub {self.feed.table}")
        await asyncio.shield(self._ready)
        sub = Subscriber(user=user, key=territory_key(user, utcnow()), every=every)
        group = self._groups.get(sub.key)
        if group is None:
            assert self._high is not None
            group = self._groups[sub.key] = _Group(user=user, cursor=self._high)
        group.members.add(sub)
        return sub

    def leave(self, sub: Subscriber) -> None:
        group = self._groups.get(sub.key)
        if group is not None:
            group.members.discard(sub)
            if not group.members:
                del self._groups[sub.key]
        if not self._groups:
            self._wake.set()  # the reader stops (and its LISTEN connection closes)

    def _last_and_dialect(self) -> int:
        with self._scope() as db_session:
            bind = db_session.get_bind()
            if bind.dialect.name == "postgresql" and self._listener is None:
                loop = self._loop
                assert loop is not None
                wake = self._wake

                def on_notify(payload: str) -> None:
                    if payload in (ANY_FEED, self.feed.table) and not loop.is_closed():
                        loop.call_soon_threadsafe(wake.set)

                listen_url = get_settings().database_direct_url  # past a transaction-mode PgBouncer
                self._listener = Listener(make_url(listen_url) if listen_url else bind.engine.url, on_notify)
            self.reads += 1
            return self.feed.last(db_session)

    async def _run(self, ready: asyncio.Future[None]) -> None:
        try:
            self._high = await to_thread.run_sync(self._last_and_dialect)
        except BaseException as exc:
            ready.set_exception(exc)
            raise
        listener = self._listener
        if listener is not None:
            listener.start()
        loop, wake, table = asyncio.get_running_loop(), self._wake, self.feed.table

        def committed_here(written: str) -> None:  # in the writer's thread
            if written == table and not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

        forget = on_commit(committed_here)
        ready.set_result(None)
        try:
            while True:
                subs = list(self.subscribers)
                timeout = FALLBACK_S if listener else min((s.every for s in subs), default=1.0)
                timeout = min(timeout, max(0.0, self._next_check - time.monotonic()))  # the users' recheck is due
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
                self._wake.clear()
                if not self._groups:
                    break
                try:
                    await self._once()
                    await asyncio.sleep(MIN_GAP_S)
                except SQLAlchemyError as exc:  # a database restarting: the streams wait, the reader retries
                    if not (isinstance(exc, OperationalError) and is_busy(exc)):
                        log.warning("feed %s: reading failed (%s); retrying", self.feed.table, exc)
                    await asyncio.sleep(ERROR_PAUSE_S)
        finally:
            forget()
            self._stopping = True  # a stream joining from now on starts a new reader
            if listener is not None:
                await to_thread.run_sync(listener.stop)

    async def _once(self) -> None:
        groups = [(key, g.user, g.cursor) for key, g in self._groups.items()]
        check = time.monotonic() >= self._next_check
        user_ids = {s.user.id for s in self.subscribers} if check else set()
        found = await to_thread.run_sync(self._read, groups, user_ids if check else None, utcnow())
        self._high = found.high
        for key, (cursor, rows) in found.rows.items():
            group = self._groups.get(key)
            if group is None:
                continue
            if rows:
                chunks = [(c, sse_text(c, name, data)) for c, name, data in rows]
                for sub in group.members:
                    sub.push(chunks)
            group.cursor = max(group.cursor, cursor)
        if found.users is not None:
            self._next_check = time.monotonic() + RECHECK_S
            self._recheck(found.users)

    def _read(self, groups: list[tuple[Hashable, User, int]], user_ids: set[int] | None,
              now: datetime) -> _Found:
        """In a worker thread, one short session: the feed's largest cursor, then each territory's
        new rows (only when it moved), then, when due, the users of the open streams."""
        with self._scope() as db_session:
            high = self.feed.last(db_session)
            self.reads += 1
            self.wakes += 1
            rows: dict[Hashable, tuple[int, list[Message]]] = {}
            for key, user, cursor in groups:
                if cursor >= high:
                    continue
                found: list[Message] = []
                while True:
                    page = self.feed.read(db_session, user, cursor, now)
                    self.reads += 1
                    found += page
                    if len(page) < PAGE:
                        break
                    cursor = page[-1][0]
                # every row up to `high` was committed before this read began: none is left behind
                rows[key] = (max(high, found[-1][0] if found else high), found)
            users = None
            if user_ids is not None:
                users = {u.id: u for u in db_session.scalars(select(User).where(User.id.in_(user_ids)))}
                self.reads += 1
            return _Found(high=high, rows=rows, users=users)

    def _recheck(self, users: dict[int, User]) -> None:
        now = utcnow()
        for sub in list(self.subscribers):
            current = users.get(sub.user.id)
            if (current is None or not current.is_active or current.token_version != sub.user.token_version
                    or territory_key(current, now) != sub.key):
                sub.end()
                self.leave(sub)
            else:
                self._groups[sub.key].user = current


_HUBS: dict[tuple[str, Scope], FeedHub] = {}


def hub(feed: Feed, scope: Scope) -> FeedHub:
    """The process's hub of `feed` read through `scope` (tests give each their own scope)."""
    key = (feed.table, scope)
    if key not in _HUBS:
        _HUBS[key] = FeedHub(feed, scope)
    return _HUBS[key]
