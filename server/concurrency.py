"""A cap on requests in flight per server process: on SQLite for its one writer, on PostgreSQL for its pool.

SQLite has one writer. Reads no longer take its lock and a successful write holds it inside one
thread hop (server.database.core), so the cap no longer decides whether writers time out
(bench_events, 20 writers beside an export: 0 errors with the cap of 8 and without). It still
trims the tail (p95 0.85 s with it, 1.3 s without: one process, one GIL, one writer at a time),
and it keeps threads free: a request that fails after its first query releases the lock only when
its session closes, in another thread hop, which must not wait behind threads all queued for
that lock. Waiting here is asynchronous and takes no thread and no connection.

PostgreSQL: a request holds its pooled connection (idle in transaction) across the thread hops of
its endpoint and of FastAPI's response validation, so with more requests in flight than pooled
connections the requests that have a thread wait for connections held by requests waiting for a
thread, until the pool times out (bench/bench_load.py, 200 users: 80 connections idle in
transaction, 10 active). The cap there is the pool's size (GRIDOPS_DB_POOL_SIZE + MAX_OVERFLOW), or
GRIDOPS_DB_MAX_REQUESTS if lower. That default stays because a lower cap did not measure faster:
bench_events on PostGIS, 50 clients: cap 40 gave 25–55 events/s (p95 1.4–3.4 s), 8 gave 41–59
(p95 1.65–1.7 s), 4 gave 38 (p95 2.0 s), spread by other tenants' load (0.9–1.5 cores) more than by
the cap; reports queue on the serial counter's row and the feed lock, not on threads.

A request whose client left while it waited (a phone's or a proxy's time-out) is dropped when its
turn comes, unanswered: under overload the queue otherwise fills with requests nobody waits for,
and the server spends its time on them while every fresh one times out in turn (bench_load, 2,000
users on a shared machine: 8,000 requests served, 12,000 client time-outs).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import Settings


def request_cap(settings: Settings, sqlite: bool) -> int:
    """Requests in flight per process: GRIDOPS_SQLITE_MAX_REQUESTS on SQLite; on PostgreSQL
    GRIDOPS_DB_MAX_REQUESTS, else the pool's size (never more requests than pooled connections)."""
    if sqlite:
        return settings.sqlite_max_requests
    pool = settings.db_pool_size + settings.db_max_overflow
    return min(settings.db_max_requests, pool) if settings.db_max_requests else pool


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
            first = await receive()  # the body (or its first part), or the client's disconnect while queued
            if first["type"] == "http.disconnect":
                return
            replayed = False

            async def receive_again() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return first

            await self.app(scope, receive_again, send)
