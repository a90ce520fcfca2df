"""The per-process indicator cache (server/indicators/cache.py): a board asked again within the TTL
costs no statement, its scope is still checked for every caller, and it expires on the request's clock."""

from __future__ import annotations

from collections.abc import Iterator
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
