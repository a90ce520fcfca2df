"""The request cap: never more requests in flight than the limit; streams are exempt; its setting per back end."""

from __future__ import annotations

import asyncio

from server.concurrency import ConcurrencyLimit, request_cap
from server.config import Settings


def test_cap_holds_and_feed_is_exempt() -> None:
    in_flight = peak = 0

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    limited = ConcurrencyLimit(app, limit=3)

    async def main() -> int:
        nonlocal peak
        await asyncio.gather(*(limited({"type": "http", "path": "/api/v1/events"}, None, None) for _ in range(20)))
        capped, peak = peak, 0
        await asyncio.gather(*(limited({"type": "http", "path": "/api/v1/events/feed"}, None, None)
                               for _ in range(10)))
        return capped

    capped = asyncio.run(main())
    assert capped == 3
    assert peak == 10  # the live feed is not queued behind the cap


def test_the_postgresql_cap_is_its_setting_never_above_the_pool() -> None:
    pool = Settings(db_pool_size=20, db_max_overflow=20)
    assert request_cap(pool, sqlite=False) == 40
    assert request_cap(Settings(db_pool_size=20, db_max_overflow=20, db_max_requests=8), sqlite=False) == 8
    assert request_cap(Settings(db_pool_size=2, db_max_overflow=2, db_max_requests=8), sqlite=False) == 4
    assert request_cap(Settings(sqlite_max_requests=5, db_max_requests=8), sqlite=True) == 5
