"""The live feeds' shared reader (server.feed_hub) in-process, with a feed of plain numbers, for what a
real server cannot provoke on demand: a read failing with a bug, the reader cancelled at shutdown,
a client that stops reading, a stream joining while the users' recheck is being read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session

from server import feed_hub
from server.auth.models import User
from server.feed_hub import Feed, FeedHub, Message, Subscriber
from tests import factories

T = TypeVar("T")
EVERY = 0.05  # the streams' poll, and the PostgreSQL fallback poll here: no test waits on a notification


class Numbers:
    """A feed whose rows are the numbers in `rows`, the same for every user; `fail` raises once in a read,
    `block` holds the next largest-cursor read until `release` is set."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.fail: Exception | None = None
        self.block = False
        self.reading, self.release = threading.Event(), threading.Event()

    def last(self, _: Session) -> int:
        if self.block:
            self.block = False
            self.reading.set()
            self.release.wait(10)
        return max(self.rows, default=0)

    def read(self, _: Session, __: User, cursor: int, ___: datetime) -> list[Message]:
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc
        return [(i, "n", {"i": i}) for i in self.rows if i > cursor][:feed_hub.PAGE]


@pytest.fixture
def numbers(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Numbers, FeedHub, dict[str, Any]]]:
    monkeypatch.setattr(feed_hub, "FALLBACK_S", EVERY)
    monkeypatch.setattr(feed_hub, "ERROR_PAUSE_S", EVERY)
    users: dict[str, Any] = factories.event_world(db_session)["users"]  # type: ignore[assignment]
    db_session.flush()

    @contextmanager
    def scope() -> Iterator[Session]:  # the test's session (one thread at a time uses it)
        yield db_session

    feed = Numbers()
    yield feed, FeedHub(Feed("numbers", feed.read, feed.last), scope), users


def run(hub: FeedHub, body: Callable[[], Awaitable[T]]) -> T:
    """`body` on a fresh loop; then every stream leaves and the reader (and its LISTEN thread) stops."""
    async def main() -> T:
        try:
            return await body()
        finally:
            for sub in list(hub.subscribers):
                hub.leave(sub)
            if hub._task is not None:
                await asyncio.wait([hub._task], timeout=10)

    return asyncio.run(main())


async def take(sub: Subscriber, n: int, timeout: float = 5.0) -> list[int] | None:
    """The cursors the stream receives until it has `n` (or the timeout); None if it ended."""
    got: list[int] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < n and (left := deadline - asyncio.get_running_loop().time()) > 0:
        chunks = await sub.next(min(left, 0.1))
        if chunks is None:
            return None
        got += [c for c, _ in chunks]
    return got


def test_a_read_failing_with_a_bug_is_logged_and_the_reader_goes_on(numbers, caplog) -> None:  # type: ignore[no-untyped-def]
    feed, hub, users = numbers

    async def body() -> list[int] | None:
        sub = await hub.join(users["admin"], EVERY)
        feed.fail = TypeError("Object of type Decimal is not JSON serializable")
        feed.rows += [1, 2, 3]
        return await take(sub, 3)

    assert run(hub, body) == [1, 2, 3]
    assert "feed numbers: reading failed" in caplog.text and "Decimal" in caplog.text


def test_a_cancelled_reader_ends_its_streams_instead_of_leaving_them_waiting(numbers) -> None:  # type: ignore[no-untyped-def]
    _, hub, users = numbers

    async def body() -> list[tuple[int, str]] | None:
        sub = await hub.join(users["admin"], EVERY)
        assert hub._task is not None
        hub._task.cancel()  # what the server's shutdown does to a task still running
        return await asyncio.wait_for(sub.next(30), 5)

    assert run(hub, body) is None


def test_a_client_that_stops_reading_is_dropped_and_the_others_get_everything(numbers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(feed_hub, "MAX_QUEUED", 5)
    feed, hub, users = numbers

    async def body() -> tuple[Subscriber, list[int] | None]:
        stalled = await hub.join(users["admin"], EVERY)
        reading = await hub.join(users["admin"], EVERY)
        feed.rows += [1, 2, 3, 4]
        first = await take(reading, 4)
        assert len(stalled.chunks) == 4 and not stalled.ended
        feed.rows += [5, 6, 7, 8]
        rest = await take(reading, 4)
        return stalled, (first or []) + (rest or [])

    stalled, received = run(hub, body)
    assert received == [1, 2, 3, 4, 5, 6, 7, 8]
    assert stalled.ended and not stalled.chunks  # its client reconnects and reads rows 1… as its backlog
    assert asyncio.run(stalled.next(0)) is None


def test_a_stream_joining_while_the_users_are_rechecked_is_not_ended(numbers) -> None:  # type: ignore[no-untyped-def]
    feed, hub, users = numbers

    async def body() -> tuple[Subscriber, Subscriber, list[int] | None]:
        admin = await hub.join(users["admin"], EVERY)
        hub._next_check = 0.0  # the recheck of the streams' users is due at the next read
        feed.block = True
        assert await asyncio.to_thread(feed.reading.wait, 5)
        street = await hub.join(users["street1"], EVERY)  # while the reader reads the users it knew of
        feed.release.set()
        feed.rows.append(1)
        return admin, street, await take(street, 1)

    admin, street, received = run(hub, body)
    assert received == [1] and not street.ended and not admin.ended


def test_a_burst_larger_than_a_queue_reaches_a_reading_client_a_page_at_a_time(numbers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(feed_hub, "PAGE", 3)
    monkeypatch.setattr(feed_hub, "MAX_QUEUED", 6)
    feed, hub, users = numbers

    async def body() -> tuple[Subscriber, list[int] | None]:
        sub = await hub.join(users["admin"], EVERY)
        feed.rows += list(range(1, 21))  # a bulk import: 20 rows in one commit
        return sub, await take(sub, 20)

    sub, received = run(hub, body)
    assert received == list(range(1, 21)) and not sub.ended
