"""Server-Sent Events feeds (events, device status): one polling loop, resumable by cursor.

A feed is stateless: each poll reads the rows after the cursor in a short session of its own
(the stream holds no session, nor on SQLite a lock), so any number of server processes can serve
it behind a proxy. A browser's EventSource reconnects by itself and sends the last `id:` it saw
as the `Last-Event-ID` header; that header wins over `?cursor=`, so a reconnect resumes exactly.
The loop is an entry point: it reads the clock once per poll, for territories that change in time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.auth.models import User
from server.database.core import is_busy
from server.database.types import utcnow
from server.errors import InvalidInput
from server.inputs import MAX_ID

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=32,
                                           description="the last `id:` received; wins over `cursor`")]
Seconds = Annotated[float, Query(ge=0, le=3600, description="the stream ends after this; the client reconnects")]
PollSeconds = Annotated[float, Query(ge=0.2, le=60, description="how often the server looks for new rows")]
# (cursor, event name, data) of each message, oldest first: what one poll found after `cursor` at `now`.
Message = tuple[int, str, dict[str, Any]]
Poll = Callable[[int, datetime], list[Message] | None]  # None: the stream ends
Read = Callable[[Session, User, int, datetime], list[Message]]


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


def sse_response(request: Request, poll: Poll, cursor: int, *, seconds: float, every: float,
                 comment: str) -> StreamingResponse:
    """Stream what `poll` finds after `cursor` every `every` seconds, for `seconds`."""

    async def stream():  # type: ignore[no-untyped-def]
        nonlocal cursor
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        yield f": {comment}\n\n"
        while True:
            try:
                items = await run_in_threadpool(poll, cursor, utcnow())
                if items is None:
                    return
            except OperationalError as exc:  # a busy database: the next poll catches up from the cursor
                if not is_busy(exc):
                    raise
                items = []
            for cursor, name, data in items:
                yield f"id: {cursor}\nevent: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            if loop.time() >= end or await request.is_disconnected():
                return
            await asyncio.sleep(every)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
