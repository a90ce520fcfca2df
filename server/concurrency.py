"""A cap on requests in flight, for the embedded SQLite back end.

SQLite has one writer; every transaction takes the write lock up front (BEGIN IMMEDIATE, see
server.database.core). With more requests in flight than worker threads, the request holding
the lock can wait for a thread while the others wait for the lock, until the busy timeout fails
them ("database is locked", measured with 50 clients in bench/bench_events.py). Waiting here,
asynchronously and before any thread or connection is taken, keeps the lock holder moving.
PostgreSQL needs no cap.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class ConcurrencyLimit:
    def __init__(self, app: ASGIApp, limit: int, exempt_suffixes: tuple[str, ...] = ("/feed",)) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt_suffixes
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(self.exempt):  # long streams poll on their own
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # created inside the running loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)
