"""Both live feeds resume where a reconnecting EventSource stopped: the Last-Event-ID header wins over
`?cursor=`; a header that is no cursor is a clear 422, not a silent restart from the beginning."""

from __future__ import annotations

import pytest

from server.events import service as events
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW


def _ids(r) -> list[int]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")]


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    w = factories.event_world(db_session)
    for _ in range(3):
        events.create(db_session=db_session, reporter=w["users"]["worker_a"], now=NOW,
                      data=EventCreate(**factories.event_body()))
    db_session.flush()
    return w


def test_the_event_feed_resumes_after_last_event_id(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["admin"])
    every = _ids(client.get("/api/v1/events/feed", params={"cursor": 0, "seconds": 0}, headers=h))
    assert len(every) == 3
    resumed = client.get("/api/v1/events/feed", params={"cursor": 0, "seconds": 0},
                         headers={**h, "Last-Event-ID": str(every[0])})
    assert _ids(resumed) == every[1:]
    blank = client.get("/api/v1/events/feed", params={"cursor": every[1], "seconds": 0}, headers={**h, "Last-Event-ID": " "})
    assert _ids(blank) == every[2:]  # no id yet (a blank header): the cursor counts


@pytest.mark.parametrize("feed", ["/api/v1/events/feed", "/api/v1/devices/feed"])
@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "99999999999"])
def test_a_last_event_id_that_is_no_cursor_is_422(client, world, feed: str, value: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(feed, params={"seconds": 0}, headers={**factories.auth_headers(world["users"]["admin"]),
                                                         "Last-Event-ID": value})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_last_event_id"
    assert r.json()["error"]["message_zh"]


def test_the_device_feed_without_a_cursor_starts_now(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    from server.devices import service as devices
    from server.devices.schemas import DeviceCreate

    c = factories.gk_square(0, 0).centroid
    device, _ = devices.create(db_session=db_session, now=NOW, device_in=DeviceCreate(
        code="CAM-1", name="CAM-1", kind="camera", lon=c.x, lat=c.y))
    factories.device_status(db_session, device, "online", NOW)
    h = factories.auth_headers(world["users"]["admin"])
    assert _ids(client.get("/api/v1/devices/feed", params={"seconds": 0}, headers=h)) == []
    assert len(_ids(client.get("/api/v1/devices/feed", params={"seconds": 0, "cursor": 0}, headers=h))) == 1
