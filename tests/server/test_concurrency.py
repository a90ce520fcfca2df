"""The request cap: never more requests in flight than the limit; streams are exempt; a request whose
client left while it was queued is dropped unanswered, the others see their body as sent."""

from __future__ import annotations

import asyncio

from server.concurrency import ConcurrencyLimit

EVENTS = {"type": "http", "path": "/api/v1/events"}


async def _body() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


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
        await asyncio.gather(*(limited(EVENTS, _body, None) for _ in range(20)))
        capped, peak = peak, 0
        await asyncio.gather(*(limited({"type": "http", "path": "/api/v1/events/feed"}, None, None)
                               for _ in range(10)))
        return capped

    capped = asyncio.run(main())
    assert capped == 3
    assert peak == 10  # the live feed is not queued behind the cap


def test_a_request_abandoned_while_queued_is_dropped_and_the_others_get_their_body() -> None:
    started: list[str] = []
    bodies: list[list[dict[str, object]]] = []
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        started.append(scope["name"])
        if scope["name"] == "first":
            await release.wait()
        bodies.append([await receive(), await receive()])

    def client(parts: list[dict[str, object]]):  # type: ignore[no-untyped-def]
        queue = list(parts)

        async def receive() -> dict[str, object]:
            return queue.pop(0)
        return receive

    chunk = {"type": "http.request", "body": b"a", "more_body": True}
    last = {"type": "http.request", "body": b"b", "more_body": False}
    gone = {"type": "http.disconnect"}
    limited = ConcurrencyLimit(app, limit=1)

    async def main() -> None:
        first = asyncio.create_task(limited({**EVENTS, "name": "first"}, client([chunk, last]), None))
        await asyncio.sleep(0)  # "first" holds the one slot
        queued = [asyncio.create_task(limited({**EVENTS, "name": "abandoned"}, client([gone]), None)),
                  asyncio.create_task(limited({**EVENTS, "name": "waiting"}, client([chunk, last]), None))]
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(first, *queued)

    asyncio.run(main())
    assert started == ["first", "waiting"]  # the client that left costs nothing
    assert bodies == [[chunk, last], [chunk, last]]  # the body read to find out is given to the app again
