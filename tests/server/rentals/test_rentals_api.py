"""Rentals and tenants through the API: scope, 纳管, controllers, masked and audited personal data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from devices.codes import DeviceKind
from server.rentals.models import PiiAccess, Tenant
from tests.server.devices.conftest import GRID_A, make_device
from tests.server.rentals.conftest import ID_A, ID_B, headers


def _ids(resp) -> list[int]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return [r["id"] for r in resp.json()["items"]]


def test_create_rental_masks_landlord_phone_and_places_it(client, world) -> None:  # type: ignore[no-untyped-def]
    from tests.server.rentals.conftest import centre

    lon, lat = centre(0, 0)
    body = {"address": "黄埔东路1号", "building": "A栋", "rooms": 12, "landlord_name": "陈大文",
            "landlord_phone": "13800138000", "lon": lon, "lat": lat}
    r = client.post("/api/v1/rentals", json=body, headers=headers(world, "street1"))
    assert r.status_code == 201, r.text
    assert r.json()["grid_code"] == GRID_A and r.json()["landlord_phone"] == "138****8000"
    assert client.post("/api/v1/rentals", json=body, headers=headers(world, "worker")).status_code == 403


@pytest.mark.parametrize(("who", "expected"), [("admin", ["r1", "r2", "r3"]), ("street1", ["r1", "r2"]),
                                               ("street2", ["r3"]), ("worker", ["r1"]), ("auditor", ["r1", "r2", "r3"])])
def test_rentals_are_scoped_like_grids(client, rentals, who: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    got = _ids(client.get("/api/v1/rentals", headers=headers(rentals["world"], who)))
    assert got == [rentals[k].id for k in expected]


def test_manage_and_link_controllers(client, rentals, db_session) -> None:  # type: ignore[no-untyped-def]
    h = headers(rentals["world"], "admin")
    r2 = rentals["r2"].id
    r = client.post(f"/api/v1/rentals/{r2}/managed", json={"managed": True, "at": "2026-11-01"}, headers=h)
    assert r.json()["managed"] and r.json()["managed_at"].startswith("2026-10-31T16:00")
    make_device(db_session, "MJ-1", DeviceKind.access_controller, cell=(2, 0))
    r = client.post(f"/api/v1/rentals/{r2}/access-controllers", json={"device_code": "MJ-1"}, headers=h)
    assert r.status_code == 200 and r.json()["access_controllers"] == ["MJ-1"]
    r = client.post(f"/api/v1/rentals/{rentals['r1'].id}/access-controllers", json={"device_code": "MJ-1"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "controller_linked"
    r = client.post(f"/api/v1/rentals/{r2}/access-controllers", json={"device_code": "CAM-B"}, headers=h)
    assert r.json()["error"]["code"] == "not_an_access_controller"


def test_tenant_registration_masked_and_full_read_audited(client, rentals, db_session) -> None:  # type: ignore[no-untyped-def]
    world, r1 = rentals["world"], rentals["r1"].id
    body = {"name": "李小明", "id_number": ID_A, "phone": "13912345678", "card_no": "C1"}
    r = client.post(f"/api/v1/rentals/{r1}/tenants", json=body, headers=headers(world, "worker"))
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["name"], t["id_number"], t["phone"], t["status"]) == ("李**", "110***********002X", "139****5678",
                                                                    "registered")
    stored = db_session.get(Tenant, t["id"])
    assert ID_A not in (stored.id_number_enc or "") and "13912345678" not in (stored.phone_enc or "")
    again = client.post(f"/api/v1/rentals/{r1}/tenants", json=body, headers=headers(world, "admin"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "tenant_exists"

    for who in ("worker", "auditor", "command"):
        denied = client.get(f"/api/v1/rentals/tenants/{t['id']}/pii", headers=headers(world, who))
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "pii_forbidden"
    full = client.get(f"/api/v1/rentals/tenants/{t['id']}/pii", headers=headers(world, "street1")).json()
    assert (full["name"], full["id_number"], full["phone"]) == ("李小明", ID_A, "13912345678")
    log = list(db_session.scalars(select(PiiAccess)))
    assert [(a.username, a.record_id, a.fields) for a in log] == [
        (world["users"]["street1"].username, t["id"], "name,id_number,phone")]
    assert len(client.get("/api/v1/rentals/pii-log", headers=headers(world, "auditor")).json()) == 1
    outside = client.get(f"/api/v1/rentals/tenants/{t['id']}/pii", headers=headers(world, "street2"))
    assert outside.status_code == 404  # out of scope: not even audited


def test_public_dev_secret_reads_no_personal_data(client, rentals, settings_env) -> None:  # type: ignore[no-untyped-def]
    """The reported attack: a token signed with the repository's DEV_SECRET as the district admin asks
    for a tenant's full ID number and phone; refused, also by a server left on that secret (not demo)."""
    from datetime import UTC, datetime, timedelta

    import jwt

    from server.config import DEV_SECRET

    world = rentals["world"]
    body = {"name": "李小明", "id_number": ID_A, "phone": "13912345678", "card_no": "C1"}
    tenant = client.post(f"/api/v1/rentals/{rentals['r1'].id}/tenants", json=body, headers=headers(world, "worker"))
    claims = {"sub": world["users"]["admin"].username, "exp": datetime.now(UTC) + timedelta(minutes=5)}
    forged = {"Authorization": "Bearer " + jwt.encode(claims, DEV_SECRET, "HS256")}
    url = f"/api/v1/rentals/tenants/{tenant.json()['id']}/pii"
    assert client.get(url, headers=forged).status_code == 401
    settings_env(GRIDOPS_SECRET_KEY=None, GRIDOPS_DEMO=None)
    r = client.get(url, headers=forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "server_key_unsafe"
    assert ID_A not in r.text and "13912345678" not in r.text


def test_invalid_personal_data_refused(client, rentals) -> None:  # type: ignore[no-untyped-def]
    h = headers(rentals["world"], "admin")
    url = f"/api/v1/rentals/{rentals['r1'].id}/tenants"
    bad_id = client.post(url, json={"name": "x", "id_number": "110105194912310021"}, headers=h)
    assert bad_id.json()["error"]["code"] == "invalid_id_number"
    bad_phone = client.post(url, json={"name": "x", "id_number": ID_B[:-1] + "X", "phone": "abc"}, headers=h)
    assert bad_phone.json()["error"]["code"] in ("invalid_phone", "invalid_id_number")
    passport = client.post(url, json={"name": "John", "id_type": "other", "id_number": "E12345678"}, headers=h)
    assert passport.status_code == 201


def test_deregister_and_list_by_status(client, rentals) -> None:  # type: ignore[no-untyped-def]
    h = headers(rentals["world"], "admin")
    r1 = rentals["r1"].id
    t = client.post(f"/api/v1/rentals/{r1}/tenants", json={"name": "王五", "id_number": ID_A}, headers=h).json()
    r = client.post(f"/api/v1/rentals/tenants/{t['id']}/deregister", headers=h)
    assert r.json()["status"] == "deregistered"
    assert client.post(f"/api/v1/rentals/tenants/{t['id']}/deregister", headers=h).status_code == 409
    assert _ids(client.get("/api/v1/rentals/tenants?status=deregistered", headers=h)) == [t["id"]]
    assert _ids(client.get("/api/v1/rentals/tenants?status=registered", headers=h)) == []
