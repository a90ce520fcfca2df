"""The per-process indicator cache (server/indicators/cache.py): a board asked again within the TTL
costs no statement, its scope is still checked for every caller, and it expires on the request's clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from server.indicators import cache
from server.indicators.periods import parse_period
from tests import factories
from tests.conftest import NOW
from tests.statements import counted

AREAS = "/api/v1/indicators/areas?scope=street:440112001&period=2026-11&level=grid"


@pytest.fixture
def cached(settings_env) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_INDICATOR_CACHE_S="60")
    cache.VALUES.clear()
    yield
    cache.VALUES.clear()


def _event(db_session, world) -> None:  # type: ignore[no-untyped-def]
    from server.events import service as events
    from server.events.schemas import EventCreate

    body = factories.event_body(reported_at=(NOW - timedelta(hours=1)).isoformat())
    events.create(db_session=db_session, reporter=world["users"]["worker_a"], data=EventCreate(**body), now=NOW)
    db_session.flush()


def test_asked_again_within_the_ttl_it_costs_no_indicator_statement(client, db_session, cached) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    headers = factories.auth_headers(world["users"]["street1"])
    first = client.get(AREAS, headers=headers)
    assert first.status_code == 200, first.text
    _event(db_session, world)  # a new case: not seen until the entry expires
    with counted(db_session) as statements:
        again = client.get(AREAS, headers=headers)
    assert again.json() == first.json()
    assert not [s for s in statements if "FROM event" in s]
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=False):
        later = client.get(AREAS, headers=headers)
    cases = [v["denominator"] for v in later.json()["rows"][0]["values"] if v["code"] == "closure_rate"]
    assert cases == [1.0]


def test_a_cached_scope_is_still_refused_to_who_may_not_see_it(client, db_session, cached) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    assert client.get(AREAS, headers=factories.auth_headers(world["users"]["street1"])).status_code == 200
    other = client.get(AREAS, headers=factories.auth_headers(world["users"]["street2"]))
    assert other.status_code == 403 and other.json()["error"]["code"] == "scope_forbidden"


def test_a_past_period_is_kept_longer_than_a_running_one() -> None:
    now = datetime(2026, 11, 20, 2, tzinfo=UTC)
    assert cache.ttl(parse_period("2026-11"), now, 60) == timedelta(seconds=60)
    assert cache.ttl(parse_period("2026-10"), now, 60) == timedelta(minutes=15)
    assert cache.ttl(parse_period("2026-10"), now, 0) == timedelta(0)


def test_the_cache_holds_a_bounded_number_of_values_whatever_the_entries() -> None:
    values = cache.TTLCache(max_values=10)
    now, minute = datetime(2026, 11, 20, 2, tzinfo=UTC), timedelta(minutes=1)
    computed: list[str] = []

    def board(key: str, size: int) -> list[int]:
        return values.get_or_compute(key, now, minute, lambda: computed.append(key) or list(range(size)))

    board("a", 4), board("b", 4), board("a", 4)  # "a" used last: "b" is the least recently used
    board("c", 4)  # 12 values: "b" goes
    board("a", 4), board("c", 4), board("b", 4)
    assert computed == ["a", "b", "c", "b"]
    board("map", 11), board("map", 11)  # larger than the whole cache: served, never kept
    assert computed[-2:] == ["map", "map"]
    board("c", 4), board("b", 4)
    assert len(computed) == 6  # the map pushed nothing out


def test_boards_asking_for_the_same_values_at_once_compute_them_once() -> None:
    values = cache.TTLCache()
    now, minute = datetime(2026, 11, 20, 2, tzinfo=UTC), timedelta(minutes=1)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_map() -> list[int]:
        calls.append(1)
        started.set()
        release.wait(10)
        return [1, 2, 3]

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(values.get_or_compute, "map", now, minute, slow_map)
        assert started.wait(10)
        others = [pool.submit(values.get_or_compute, "map", now, minute, slow_map) for _ in range(3)]
        time.sleep(0.2)  # the others are waiting (were one late, it finds the value kept: still one call)
        release.set()
        results = [f.result(10) for f in (first, *others)]
    assert calls == [1] and all(r is results[0] for r in results)


def test_a_failed_computation_leaves_the_key_free_for_the_next_request() -> None:
    values = cache.TTLCache()
    now, minute = datetime(2026, 11, 20, 2, tzinfo=UTC), timedelta(minutes=1)

    def broken() -> list[int]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        values.get_or_compute("map", now, minute, broken)
    assert values.get_or_compute("map", now, minute, lambda: [1]) == [1]
