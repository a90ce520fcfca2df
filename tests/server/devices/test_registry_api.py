"""Device registry API: registration, GB/T 28181 checks, datum conversion, scope, changes."""

from __future__ import annotations

import pytest

from devices import credentials
from devices.codes import DeviceKind
from gis.datum import wgs84_to_gcj02
from server.devices import service
from tests.server.devices.conftest import GRID_A, GRID_B, GRID_C, STREET1, centre, headers, make_device

ALL = ["CAM-A", "CAM-B", "DOOR-A", "LINK-C", "TERM-X"]


def _codes(resp) -> list[str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return [d["code"] for d in resp.json()["items"]]


@pytest.mark.parametrize(("who", "expected"), [
    ("admin", ALL), ("command", ALL), ("auditor", ALL),
    ("street1", ["CAM-A", "CAM-B", "DOOR-A"]),
    ("street2", ["LINK-C"]),
    ("worker", ["CAM-A", "DOOR-A"]),
])
def test_each_role_sees_its_scope(client, world, who: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/devices", headers=headers(world, who))
    assert _codes(r) == expected and r.json()["total"] == len(expected)


def test_detail_out_of_scope_is_404(client, world) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/devices/CAM-A", headers=headers(world, "worker")).status_code == 200
    r = client.get("/api/v1/devices/CAM-B", headers=headers(world, "worker"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "device_not_found"


def test_filters_and_pagination(client, world) -> None:  # type: ignore[no-untyped-def]
    h = headers(world, "admin")
    assert _codes(client.get("/api/v1/devices?kind=camera", headers=h)) == ["CAM-A", "CAM-B"]
    assert _codes(client.get(f"/api/v1/devices?street_code={STREET1}", headers=h)) == ["CAM-A", "CAM-B", "DOOR-A"]
    assert _codes(client.get(f"/api/v1/devices?grid_code={GRID_C}", headers=h)) == ["LINK-C"]
    assert _codes(client.get("/api/v1/devices?status=unknown&page=2&page_size=2", headers=h)) == ["DOOR-A", "LINK-C"]
    assert _codes(client.get("/api/v1/devices?status=online", headers=h)) == []
    assert _codes(client.get("/api/v1/devices?q=CAM-", headers=h)) == ["CAM-A", "CAM-B"]


def test_register_camera_with_gb_id_converts_datum_and_assigns_grid(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre(2, 0)
    glon, glat = wgs84_to_gcj02(lon, lat)  # a phone SDK position
    body = {"code": "44011200001320000001", "name": "大沙东路口", "kind": "camera", "lon": glon, "lat": glat,
            "datum": "gcj02", "installed_at": "2024-03-01", "owner_unit": "黄埔分局", "heartbeat_interval_s": 30}
    r = client.post("/api/v1/devices", json=body, headers=headers(world, "admin"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["device"]["gb_code"] == "44011200001320000001" and out["device"]["grid_code"] == GRID_B
    assert out["device"]["lon"] == pytest.approx(lon, abs=1e-6) and out["device"]["status"] == "unknown"
    assert out["device"]["installed_at"].startswith("2024-02-29T16:00:00")  # midnight in Asia/Shanghai
    stored = service.get_by_code(db_session=db_session, code="44011200001320000001")
    assert credentials.verify_secret(out["credentials"]["secret"], stored.secret_hash)
    assert out["credentials"]["username"] == "44011200001320000001"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"code": "44011200001180000001", "kind": "camera"}, 422, "invalid_gb28181_id"),  # an NVR type code
    ({"code": "L1", "kind": "link", "gb_code": "44011200001320000001"}, 422, "gb_code_not_camera"),
    ({"code": "CAM-A", "kind": "camera"}, 409, "device_exists"),
    ({"code": "a/b", "kind": "camera"}, 422, "validation_error"),
    ({"code": "X1", "kind": "toaster"}, 422, "validation_error"),
    ({"code": "X1", "kind": "camera", "lon": 113.4}, 422, "validation_error"),
    ({"code": "X1", "kind": "camera", "lon": 113.4, "lat": 23.1, "datum": "beijing54"}, 422, "unknown_datum"),
])
def test_registration_refused(client, world, body, status, code) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/devices", json={"name": "x", **body}, headers=headers(world, "admin"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


@pytest.mark.parametrize("who", ["auditor", "street1", "worker", "command"])
def test_only_district_admin_writes(client, world, who: str) -> None:  # type: ignore[no-untyped-def]
    h = headers(world, who)
    assert client.post("/api/v1/devices", json={"code": "N1", "name": "n", "kind": "camera"}, headers=h).status_code == 403
    assert client.post("/api/v1/devices/CAM-A/credentials", headers=h).status_code == 403
    assert client.patch("/api/v1/devices/CAM-A", json={"name": "n"}, headers=h).status_code == 403


def test_move_rotate_retire(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    h = headers(world, "admin")
    lon, lat = centre(5, 5)
    r = client.patch("/api/v1/devices/CAM-A", json={"lon": lon, "lat": lat, "owner_unit": "区政法委"}, headers=h)
    assert r.status_code == 200 and r.json()["grid_code"] == GRID_C and r.json()["owner_unit"] == "区政法委"
    old = service.get_by_code(db_session=db_session, code="CAM-A").secret_hash
    secret = client.post("/api/v1/devices/CAM-A/credentials", headers=h).json()["secret"]
    device = service.get_by_code(db_session=db_session, code="CAM-A")
    assert device.secret_hash != old and credentials.verify_secret(secret, device.secret_hash)
    r = client.post("/api/v1/devices/CAM-A/retire", json={"retired_at": "2026-01-01"}, headers=h)
    assert r.status_code == 200 and r.json()["retired_at"].startswith("2025-12-31T16:00")
    assert "CAM-A" not in _codes(client.get("/api/v1/devices", headers=h))
    assert "CAM-A" in _codes(client.get("/api/v1/devices?include_retired=true", headers=h))
    assert client.post("/api/v1/devices/CAM-A/retire", json={}, headers=h).json()["error"]["code"] == "device_retired"
    assert ("CAM-A", device.secret_hash) not in service.password_entries(db_session=db_session)


def test_detail_and_maintenance(client, world) -> None:  # type: ignore[no-untyped-def]
    h = headers(world, "admin")
    body = {"start_at": "2026-11-01T01:00:00+08:00", "end_at": "2026-11-01T05:00:00+08:00", "reason": "镜头清洁"}
    r = client.post("/api/v1/devices/CAM-B/maintenance", json=body, headers=h)
    assert r.status_code == 201 and r.json()["created_by"] == world["users"]["admin"].username
    bad = {**body, "end_at": body["start_at"]}
    assert client.post("/api/v1/devices/CAM-B/maintenance", json=bad, headers=h).status_code == 422
    detail = client.get("/api/v1/devices/CAM-B", headers=headers(world, "street1")).json()
    assert detail["grid_code"] == GRID_B and detail["kind_zh"] == "视频监控点位"
    assert detail["heartbeats"] == 0 and detail["recent_intervals"] == []
    assert [m["reason"] for m in detail["maintenance"]] == ["镜头清洁"]


def test_grid_of_device_on_shared_border_is_smallest_code(db_session, world) -> None:  # type: ignore[no-untyped-def]
    from tests import factories

    factories.grid(db_session, "440112001001002", factories.gk_square(1, 0))
    shared = set(factories.gk_square(0, 0).exterior.coords) & set(factories.gk_square(1, 0).exterior.coords)
    lon, lat = sorted(shared)[0]  # a vertex of both grids
    d = make_device(db_session, "EDGE", DeviceKind.camera, cell=None, lon=lon, lat=lat)
    assert d.grid.code == GRID_A


def test_password_entries_for_the_broker(db_session, world) -> None:  # type: ignore[no-untyped-def]
    entries = dict(service.password_entries(db_session=db_session))
    assert set(entries) == set(ALL)
    assert all(h.startswith("$7$") for h in entries.values())
    make_device(db_session, "NEW1", DeviceKind.terminal, cell=None)
    assert "NEW1" in dict(service.password_entries(db_session=db_session))


def test_kind_enum_matches_glossary() -> None:
    assert [k.value for k in DeviceKind] == ["camera", "access_controller", "link", "terminal"]
