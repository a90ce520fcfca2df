"""Server-Sent Events feeds (events, device status), resumable by cursor.

A stream reads its backlog after its cursor in short sessions of its own, then takes the new rows
from its feed's shared reader (server.feed_hub: one per feed per process, not one poll per stream).
The stream holds no session, nor on SQLite a lock, and the process keeps nothing a reconnect
needs, so any number of server processes can serve it behind a proxy. A browser's EventSource
reconnects by itself and sends the last `id:` it saw as the `Last-Event-ID` header; that header
wins over `?cursor=`, so a reconnect resumes exactly. GRIDOPS_FEED_MODE=poll brings back one
polling loop per stream (the bench's baseline). The loop is an entry point: it reads the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.auth.models import User
from server.config import get_settings
from server.database.core import is_busy
from server.database.types import utcnow
from server.errors import InvalidInput
from server.feed_hub import PAGE, Feed, Message, Read, hub, sse_text
from server.inputs import MAX_ID

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=32,
                                           description="the last `id:` received; wins over `cursor`")]
Seconds = Annotated[float, Query(ge=0, le=3600, description="the stream ends after this; the client reconnects")]
PollSeconds = Annotated[float, Query(ge=0.2, le=60, description="how often the server looks for new rows")]
# (cursor, event name, data) of each message, oldest first: what one poll found after `cursor` at `now`.
Poll = Callable[[int, datetime], list[Message] | None]  # None: the stream ends
Scope = Callable[[], AbstractContextManager[Session]]
__all__ = ["PAGE", "Feed", "LastEventId", "Message", "PollSeconds", "Seconds", "feed_response", "resume_from"]


def user_poll(scope: Callable[[], AbstractContextManager[Session]], user: User, read: Read) -> Poll:
    """Each poll in a short read session of its own, as the user (looked up again: the request's
    session closed long ago), so the stream holds no session, nor on SQLite a lock. None once the
    user is disabled or their token revoked (password changed or reset): the stream ends."""
    user_id, version = user.id, user.token_version

    def poll(cursor: int, now: datetime) -> list[Message] | None:
        with scope() as db_session:
            current = db_session.get(User, user_id)
            if current is None or not current.is_active or current.token_version != version:
                return None
            return read(db_session, current, cursor, now)

    return poll


def resume_from(cursor: int | None, last_event_id: str | None) -> int | None:
    """The cursor to start after: Last-Event-ID if sent (not blank), else `cursor`."""
    if last_event_id is None or not last_event_id.strip():
        return cursor
    text = last_event_id.strip()
    if not text.isdigit() or int(text) > MAX_ID:
        raise InvalidInput(f"Last-Event-ID {last_event_id[:32]!r} is not a cursor this feed sent",
                           "Last-Event-ID 不是本数据流发出的游标", code="bad_last_event_id")
    return int(text)


def feed_response(request: Request, feed: Feed, scope: Scope, user: User, cursor: int, *, seconds: float,
                  every: float, comment: str) -> StreamingResponse:
    """The stream of `feed` after `cursor` for `seconds`, as `user` sees it."""
    poll = user_poll(scope, user, feed.read)
    if get_settings().feed_mode == "poll":
        return _response(_polling(request, poll, cursor, seconds=seconds, every=every), comment)
    return _response(_shared(feed, scope, user, poll, cursor, seconds=seconds, every=every), comment)


def _response(messages: AsyncIterator[str], comment: str) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        yield f": {comment}\n\n"
        async for text in messages:
            yield text

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _backlog(poll: Poll, cursor: int, every: float) -> list[Message] | None:
    """One page after `cursor` (a busy database: after a pause, again); None: the stream ends."""
    while True:
        try:
            return await run_in_threadpool(poll, cursor, utcnow())
        except OperationalError as exc:
            if not is_busy(exc):
                raise
        await asyncio.sleep(every)


async def _shared(feed: Feed, scope: Scope, user: User, poll: Poll, cursor: int, *, seconds: float,
                  every: float) -> AsyncIterator[str]:
    """Join the feed's hub, read the backlog, then send what the hub pushes and was not sent yet.
    `seconds=0` (a one-shot read of one page) joins nothing."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sub = await hub(feed, scope).join(user, every) if seconds > 0 else None
    try:
        while True:
            items = await _backlog(poll, cursor, every)
            if items is None:
                return
            if items:
                yield "".join(sse_text(*item) for item in items)
                cursor = items[-1][0]
            if len(items) < PAGE or loop.time() >= end:
                break
        while sub is not None and (left := end - loop.time()) > 0:
            chunks = await sub.next(left)
            if chunks is None:
                return
            fresh = [text for c, text in chunks if c > cursor]
            if fresh:
                cursor = chunks[-1][0]
                yield "".join(fresh)
    finally:
        if sub is not None:
            hub(feed, scope).leave(sub)


async def _polling(request: Request, poll: Poll, cursor: int, *, seconds: float, every: float) -> AsyncIterator[str]:
    """One poll every `every` seconds for this stream alone (GRIDOPS_FEED_MODE=poll)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        try:
            items = await run_in_threadpool(poll, cursor, utcnow())
            if items is None:
                return
        except OperationalError as exc:  # a busy database: the next poll catches up from the cursor
            if not is_busy(exc):
                raise
            items = []
        for item in items:
            yield sse_text(*item)
        cursor = items[-1][0] if items else cursor
        if loop.time() >= end or await request.is_disconnected():
            return
        await asyncio.sleep(every)
