"""The live feed against a real server: open while several writers report, it delivers each new
event within a bounded time and holds no session between polls, so the writers get no 5xx (on
SQLite the feed once held its login's write transaction for the whole stream)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy.orm import Session

from server.database.core import make_engine
from tests import factories

WRITERS = {"worker_a": (0, 0), "worker_b": (1, 0), "worker_c": (5, 5), "street1": (1, 0), "street2": (5, 5),
           "command": (0, 0)}  # who reports, and where (a cell of their territory)
EVENTS_EACH = 8
DELIVERY_S = 5.0  # from the writer's 201 to the feed
FEED_S = 60.0  # the feed ends by itself after this: a reader never hangs the test


def test_the_feed_delivers_each_event_while_others_write(fresh_db_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(fresh_db_url)
    with Session(engine, expire_on_commit=False) as s:
        users = factories.event_world(s)["users"]
        s.commit()
    engine.dispose()
    base = live_server(fresh_db_url)
    expected = len(WRITERS) * EVENTS_EACH
    seen: dict[str, float] = {}
    opened = threading.Event()
    feed_status: list[int] = []

    def read_feed() -> None:
        with httpx.Client(base_url=base, timeout=FEED_S + 10) as c, c.stream(
                "GET", "/api/v1/events/feed", params={"cursor": 0, "seconds": FEED_S, "poll": 0.2},
                headers=factories.auth_headers(users["admin"])) as r:
            feed_status.append(r.status_code)
            opened.set()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    item = json.loads(line[len("data: "):])
                    if item["kind"] == "create":
                        seen.setdefault(item["event_uuid"], time.monotonic())
                if len(seen) >= expected:
                    return

    def write(name: str) -> list[tuple[str, int, float]]:
        out = []
        with httpx.Client(base_url=base, timeout=30, headers=factories.auth_headers(users[name])) as c:
            for _ in range(EVENTS_EACH):
                body = factories.event_body(factories.gk_square(*WRITERS[name]))
                r = c.post("/api/v1/events", json=body)
                out.append((str(body["uuid"]), r.status_code, time.monotonic()))
        return out

    reader = threading.Thread(target=read_feed, daemon=True)
    reader.start()
    assert opened.wait(10) and feed_status == [200]
    with ThreadPoolExecutor(len(WRITERS)) as pool:
        posted = [p for batch in pool.map(write, WRITERS) for p in batch]
    reader.join(timeout=FEED_S + 10)

    assert [status for _, status, _ in posted if status != 201] == []
    missing = [u for u, _, _ in posted if u not in seen]
    assert missing == [], f"{len(missing)} of {expected} events never reached the feed"
    late = {u: round(seen[u] - at, 2) for u, _, at in posted if seen[u] - at > DELIVERY_S}
    assert late == {}
