"""GET /grids/{code}/card: the map's grid card in one request, territory-checked like GET /grids/{code}."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.codes import DeviceKind
from server.devices import service as devices
from server.devices.schemas import DeviceCreate
from server.events import service as events
from server.events.enums import EventState
from server.events.schemas import EventCreate
from server.events.transitions import transition
from tests import factories
from tests.conftest import NOW

GRID_A, GRID_B, GRID_C = "440112001001001", "440112001001002", "440112002001001"


def _device(db_session, code: str, cell: tuple[int, int]):  # type: ignore[no-untyped-def]
    c = factories.gk_square(*cell).centroid
    device, _ = devices.create(db_session=db_session, now=NOW, device_in=DeviceCreate(
        code=code, name=code, kind=DeviceKind.camera, lon=c.x, lat=c.y))
    return device


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    """Grid A: four open events (one warned of, one overdue), one closed, one in grid B; three
    devices in service (online, offline, never heard from) and a retired one; one device in B."""
    w = factories.event_world(db_session)
    users = w["users"]
    made = []
    for i in range(5):
        body = factories.event_body(reported_at=(NOW - timedelta(hours=5 - i)).isoformat())
        made.append(events.create(db_session=db_session, reporter=users["worker_a"], data=EventCreate(**body),
                                  now=NOW)[0])
    made[1].warned_at = NOW
    made[2].overdue = True
    made[3].warned_at, made[3].overdue = NOW - timedelta(hours=1), True  # warned, then overdue: overdue only
    for j, s in enumerate(["accepted", "dispatched", "handled", "closed"]):
        transition(db_session=db_session, event=made[4], to=EventState(s), actor=users["admin"],
                   at=NOW - timedelta(minutes=40 - j))
    events.create(db_session=db_session, reporter=users["worker_b"], now=NOW,
                  data=EventCreate(**factories.event_body(factories.gk_square(1, 0))))
    on, off = _device(db_session, "CAM-ON", (0, 0)), _device(db_session, "CAM-OFF", (0, 0))
    _device(db_session, "CAM-NEW", (0, 0))
    old = _device(db_session, "CAM-OLD", (0, 0))
    devices.retire(db_session=db_session, device=old, at=NOW - timedelta(days=1), now=NOW)
    _device(db_session, "CAM-B", (1, 0))
    factories.device_status(db_session, on, "online", NOW - timedelta(minutes=10))
    factories.device_status(db_session, off, "offline", NOW - timedelta(minutes=10))
    db_session.flush()
    return w


def _card(client, world, who: str, code: str = GRID_A, **params):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/grids/{code}/card", params=params,
                      headers=factories.auth_headers(world["users"][who]))


def test_one_request_holds_the_grid_its_workers_events_devices_and_indicators(client, world) -> None:  # type: ignore[no-untyped-def]
    r = _card(client, world, "command")
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["grid"] == {"code": GRID_A, "name": card["grid"]["name"], "street_code": "440112001000",
                            "street_name": "街道1", "community_code": "440112001001",
                            "community_name": card["grid"]["community_name"]}
    assert card["grid"]["name"] and card["grid"]["community_name"]
    worker = world["users"]["worker_a"]
    assert [(w["username"], w["name"]) for w in card["workers"]] == [(worker.username, worker.full_name)]
    assert card["events"] == {"open": 4, "warning": 1, "overdue": 2}
    assert card["devices"] == {"online": 1, "offline": 1, "unknown": 1, "total": 3}
    assert card["period"] == "2026-11"  # this month in Asia/Shanghai by default


def test_indicators_are_the_engines_for_the_grid_against_the_catalogue(client, world) -> None:  # type: ignore[no-untyped-def]
    card = _card(client, world, "admin", period="2026-Q4").json()
    engine = client.get("/api/v1/indicators", params={"scope": f"grid:{GRID_A}", "period": "2026-Q4"},
                        headers=factories.auth_headers(world["users"]["admin"])).json()
    by_code = {v["code"]: v for v in engine}
    assert card["indicators"] and {i["code"] for i in card["indicators"]} <= set(by_code)
    assert "weekly_reports_produced" not in {i["code"] for i in card["indicators"]}  # a district-level indicator
    for item in card["indicators"]:
        v = by_code[item["code"]]
        assert (item["name"], item["value"], item["unit"], item["target"]) == (v["name_zh"], v["value"], v["unit"],
                                                                                v["target"])
        assert item["met"] == {"met": True, "not_met": False, "no_data": None}[v["status"]]
    closure = next(i for i in card["indicators"] if i["code"] == "closure_rate")
    assert closure["value"] == 20.0 and closure["target"] == 98 and closure["met"] is False  # 1 of 5 closed


@pytest.mark.parametrize(("who", "code"), [("street2", GRID_A), ("worker_a", GRID_B), ("worker_c", GRID_A)])
def test_a_grid_outside_the_territory_answers_like_a_missing_one(client, world, who: str, code: str) -> None:  # type: ignore[no-untyped-def]
    foreign, missing = _card(client, world, who, code), _card(client, world, who, code[:12] + "099")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"] == "grid_not_found"
    assert set(foreign.json()["error"]) == set(missing.json()["error"])  # nothing more said of a real grid


def test_own_grid_for_the_worker_and_the_street(client, world) -> None:  # type: ignore[no-untyped-def]
    assert _card(client, world, "worker_a").status_code == 200
    assert _card(client, world, "street1", GRID_B).json()["events"] == {"open": 1, "warning": 0, "overdue": 0}


def test_a_bad_period_is_422(client, world) -> None:  # type: ignore[no-untyped-def]
    r = _card(client, world, "admin", period="2026-13")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_period"
