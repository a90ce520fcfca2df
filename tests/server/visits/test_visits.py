"""Visits: the counting rule says why a visit did not count; retries record once; scopes hold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import factories
from tests.conftest import NOW

API = "/api/v1/visits"


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _points(square_ix: int = 0, square_iy: int = 0, n: int = 5) -> list[dict[str, float]]:
    sq = factories.gk_square(square_ix, square_iy)
    minx, miny, maxx, maxy = sq.bounds
    return [{"lon": minx + (maxx - minx) * (i + 1) / (n + 1), "lat": (miny + maxy) / 2} for i in range(n)]


def _body(minutes: float = 30, points=None, **extra):  # type: ignore[no-untyped-def]
    end = datetime.now(UTC) - timedelta(minutes=1)
    return {"uuid": str(uuid.uuid4()), "started_at": (end - timedelta(minutes=minutes)).isoformat(),
            "ended_at": end.isoformat(), "datum": "cgcs2000", "points": points or _points(),
            "households": ["3栋201"], **extra}


def _post(client, world, body, who: str = "worker_a"):  # type: ignore[no-untyped-def]
    return client.post(API, json=body, headers=factories.auth_headers(world["users"][who]))


def test_visit_in_own_grid_counts(client, world) -> None:  # type: ignore[no-untyped-def]
    r = _post(client, world, _body())
    assert r.status_code == 201, r.text
    assert r.json()["counted"] is True and r.json()["grid_code"] == "440112001001001"


@pytest.mark.parametrize(("body_kwargs", "reason"), [
    ({"minutes": 5}, "too_short"),
    ({"points": _points(1, 0)}, "outside_assigned_grids"),  # grid B is worker_b's
    ({"points": _points(0, 0, 3) + _points(9, 9, 2)}, "outside_assigned_grids"),  # 60 % inside < 80 %
])
def test_visit_not_counted_says_why(client, world, body_kwargs, reason: str) -> None:  # type: ignore[no-untyped-def]
    r = _post(client, world, _body(**body_kwargs))
    assert r.status_code == 201
    assert r.json()["counted"] is False and r.json()["not_counted_reason"] == reason
    assert r.json()["not_counted_detail"]


def test_retry_records_once_and_reuse_is_409(client, world) -> None:  # type: ignore[no-untyped-def]
    body = _body()
    assert _post(client, world, body).status_code == 201
    again = _post(client, world, body)
    assert again.status_code == 200 and again.json()["uuid"] == body["uuid"]
    assert client.get(API, headers=factories.auth_headers(world["users"]["worker_a"])).json()["total"] == 1
    assert _post(client, world, {**body, "notes": "changed"}).status_code == 409



@pytest.mark.parametrize("same_body", [True, False])
def test_another_workers_visit_uuid_tells_nothing(client, world, same_body: bool) -> None:  # type: ignore[no-untyped-def]
    """Sending another worker's visit uuid (and body) never returns their visit."""
    body = _body(notes="3栋201 李某 独居老人")
    assert _post(client, world, body).status_code == 201
    r = _post(client, world, body if same_body else {**body, "notes": "x"}, who="worker_b")
    assert r.status_code == 409 and r.json()["error"]["code"] == "uuid_taken"
    assert "李某" not in r.text and "counted" not in r.text
    assert client.get(API, headers=factories.auth_headers(world["users"]["worker_b"])).json()["total"] == 0

@pytest.mark.parametrize(("patch", "status"), [
    ({"ended_at": "2020-01-01T00:00:00+00:00"}, 422),  # before start
    ({"points": []}, 422),
    ({"datum": "gcj"}, 422),
])
def test_bad_visits_refused(client, world, patch, status: int) -> None:  # type: ignore[no-untyped-def]
    assert _post(client, world, {**_body(), **patch}).status_code == status


def test_only_workers_record_visits(client, world) -> None:  # type: ignore[no-untyped-def]
    assert _post(client, world, _body(), who="street1").status_code == 403


def test_scopes_and_per_worker_month(client, world) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        _post(client, world, _body())
    _post(client, world, _body(minutes=2))
    _post(client, world, _body(points=_points(5, 5)), who="worker_c")
    h_b = factories.auth_headers(world["users"]["worker_b"])
    assert client.get(API, headers=h_b).json()["total"] == 0
    assert client.get(API, headers=factories.auth_headers(world["users"]["street1"])).json()["total"] == 4
    month = (datetime.now(UTC) - timedelta(minutes=40)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    rows = client.get(f"{API}/per-worker-month?month={month}",
                      headers=factories.auth_headers(world["users"]["admin"])).json()
    by_worker = {r["worker"]: r for r in rows}
    a = by_worker[world["users"]["worker_a"].username]
    assert (a["counted"], a["total"], a["target"], a["met"]) == (3, 4, 20, False)
    assert by_worker[world["users"]["worker_c"].username]["counted"] == 1


@pytest.fixture
def veteran(db_session, world):  # type: ignore[no-untyped-def]
    """A worker assigned to grid A since 1999: only the sync delay can keep a back-dated visit from counting."""
    from server.auth.enums import Role
    from server.grids import service as grids

    w = factories.user(db_session, Role.grid_worker)
    grids.assign_worker(db_session=db_session, grid=world["grids"]["A"], worker=w, at=datetime(1999, 1, 1, tzinfo=UTC))
    return w


def _started(at: datetime, minutes: float = 30) -> dict[str, object]:
    return _body(started_at=at.isoformat(), ended_at=(at + timedelta(minutes=minutes)).isoformat())


@pytest.mark.parametrize("started", [datetime(2025, 6, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                                     datetime(2000, 1, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                                     NOW - timedelta(days=31)])
def test_back_dated_visit_is_kept_but_not_counted(client, veteran, started: datetime) -> None:  # type: ignore[no-untyped-def]
    """The issue: visits dated 2025-06-02 and 2000-01-01 came back counted; they decide pay."""
    headers = factories.auth_headers(veteran)
    r = client.post(API, json=_started(started), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["counted"] is False and r.json()["not_counted_reason"] == "synced_too_late"
    assert "30" in r.json()["not_counted_detail"]
    assert client.get(f"{API}/{r.json()['uuid']}", headers=headers).json()["counted"] is False  # kept
    month = started.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    rows = client.get(f"{API}/per-worker-month?month={month}", headers=headers).json()
    assert [(row["counted"], row["total"]) for row in rows] == [(0, 1)]


def test_visit_synced_within_the_window_counts(client, veteran) -> None:  # type: ignore[no-untyped-def]
    r = client.post(API, json=_started(NOW - timedelta(days=29)), headers=factories.auth_headers(veteran))
    assert r.status_code == 201 and r.json()["counted"] is True, r.text


def test_one_late_sync_window_for_events_and_visits(client, world, veteran, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_LATE_SYNC_DAYS="60")
    started = NOW - timedelta(days=40)
    assert client.post(API, json=_started(started), headers=factories.auth_headers(veteran)).json()["counted"] is True
    event = factories.event_body(reported_at=started.isoformat())
    r = client.post("/api/v1/events", json=event, headers=factories.auth_headers(world["users"]["worker_a"]))
    assert r.status_code == 201, r.text
    settings_env(GRIDOPS_LATE_SYNC_DAYS="30")
    r = client.post("/api/v1/events", json=factories.event_body(reported_at=started.isoformat()),
                    headers=factories.auth_headers(world["users"]["worker_a"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "report_too_old"
