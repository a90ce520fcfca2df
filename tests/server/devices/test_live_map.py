"""The map's devices (GET /devices/geojson) and the status feed's reads, in process: status changes
are written the ingester's way (factories.device_status), so the rows are those the MQTT path produces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.devices.schemas import DeviceFeatureCollection
from tests.conftest import NOW
from tests.factories import device_status
from tests.server.devices.conftest import GRID_A, GRID_C, centre, headers

ALL = ["CAM-A", "CAM-B", "DOOR-A", "LINK-C", "TERM-X"]


def _geojson(client, world, who: str, **params):  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/devices/geojson", params=params, headers=headers(world, who))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(("who", "expected"), [
    ("admin", ALL), ("command", ALL), ("auditor", ALL), ("street1", ["CAM-A", "CAM-B", "DOOR-A"]),
    ("street2", ["LINK-C"]), ("worker", ["CAM-A", "DOOR-A"]),
])
def test_each_role_gets_its_territory_as_one_collection(client, world, who: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    body = _geojson(client, world, who)
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == expected
    assert [f["properties"]["code"] for f in body["features"]] == expected


def test_features_carry_status_place_and_the_feed_cursor(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    devices = world["devices"]
    device_status(db_session, devices["CAM-A"], "online", NOW - timedelta(minutes=5))
    device_status(db_session, devices["LINK-C"], "offline", NOW - timedelta(minutes=3))
    body = _geojson(client, world, "admin")
    DeviceFeatureCollection.model_validate(body)  # the documented shape (the view serialises dicts itself)
    by_code = {f["id"]: f for f in body["features"]}
    cam = by_code["CAM-A"]
    assert cam["properties"] == {"code": "CAM-A", "kind": "camera", "name": "设备CAM-A", "status": "online",
                                 "online": True, "grid_code": GRID_A}
    assert cam["geometry"]["type"] == "Point"
    assert cam["geometry"]["coordinates"] == pytest.approx(list(centre(0, 0)), abs=1e-7)
    assert by_code["LINK-C"]["properties"] | {} == {"code": "LINK-C", "kind": "link", "name": "设备LINK-C",
                                                    "status": "offline", "online": False, "grid_code": GRID_C}
    assert by_code["DOOR-A"]["properties"]["status"] == "unknown" and not by_code["DOOR-A"]["properties"]["online"]
    assert by_code["TERM-X"]["geometry"] is None and by_code["TERM-X"]["properties"]["grid_code"] is None
    feed = client.get("/api/v1/devices/feed", params={"cursor": 0, "seconds": 0}, headers=headers(world, "admin"))
    ids = [int(line[4:]) for line in feed.text.splitlines() if line.startswith("id: ")]
    assert len(ids) == 2 and body["cursor"] == ids[-1]  # the collection resumes the feed after both changes


def test_filters_by_area_and_kind(client, world) -> None:  # type: ignore[no-untyped-def]
    ids = lambda body: [f["id"] for f in body["features"]]  # noqa: E731
    assert ids(_geojson(client, world, "admin", scope="street:440112001")) == ["CAM-A", "CAM-B", "DOOR-A"]
    assert ids(_geojson(client, world, "admin", scope=f"grid:{GRID_C}")) == ["LINK-C"]
    assert ids(_geojson(client, world, "admin", kind="camera")) == ["CAM-A", "CAM-B"]
    assert ids(_geojson(client, world, "street1", scope="street:440112002")) == []  # foreign: empty, as a filter


def test_retired_devices_leave_the_map(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/devices/CAM-B/retire", json={}, headers=headers(world, "admin"))
    assert r.status_code == 200, r.text
    assert "CAM-B" not in [f["id"] for f in _geojson(client, world, "admin")["features"]]


@pytest.mark.parametrize(("params", "code"), [({"scope": "street:12"}, "bad_scope"), ({"kind": "toaster"}, None)])
def test_bad_filters_are_422(client, world, params, code) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/devices/geojson", params=params, headers=headers(world, "admin"))
    assert r.status_code == 422
    if code:
        assert r.json()["error"]["code"] == code


def test_the_map_needs_a_login(client, world) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/devices/geojson").status_code == 401
