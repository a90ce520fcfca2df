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
transaction, 10 active). The cap there is the pool's size (GRIDOPS_DB_POOL_SIZE + MAX_OVERFLOW).

A request whose client left while it waited (a phone's or a proxy's time-out) is dropped when its
turn comes, unanswered: under overload the queue otherwise fills with requests nobody waits for,
and the server spends its time on them while every fresh one times out in turn (bench_load, 2,000
users on a shared machine: 8,000 requests served, 12,000 client time-outs).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
