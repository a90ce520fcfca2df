"""Online rate through SQL: intervals stored in the database, grouped per kind, grid, street."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.devices.models import DeviceMaintenance, DeviceStatusInterval
from tests.server.devices.conftest import GRID_A, GRID_B, GRID_C, STREET1, STREET2, headers

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def history(db_session, world):  # type: ignore[no-untyped-def]
    """Day 1 (0–24 h): CAM-A up 18 h; CAM-B up all day with 4 h maintenance; DOOR-A installed at 12 h, up
    since; LINK-C down; TERM-X (no grid) up all day and still up."""
    d = world["devices"]
    d["DOOR-A"].installed_at = h(12)

    def iv(code: str, status: str, a: float, b: float | None) -> None:
        db_session.add(DeviceStatusInterval(device_id=d[code].id, status=status, start_at=h(a),
                                            end_at=None if b is None else h(b), reason="heartbeat"))

    iv("CAM-A", "online", 0, 6)
    iv("CAM-A", "offline", 6, 12)
    iv("CAM-A", "online", 12, None)
    iv("CAM-B", "online", -48, None)
    iv("DOOR-A", "online", 12, None)
    iv("LINK-C", "offline", -5, None)
    iv("TERM-X", "online", -1, None)
    db_session.add(DeviceMaintenance(device_id=d["CAM-B"].id, start_at=h(2), end_at=h(6), reason="clean",
                                     created_at=h(0)))
    db_session.flush()
    return world


def _groups(resp) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return {g["key"]: g for g in resp.json()["groups"]} | {"total": resp.json()["total"]}


def _period(**extra: str) -> dict[str, str]:
    return {"mode": "availability", "start": h(0).isoformat(), "end": h(24).isoformat(), **extra}


def test_availability_per_kind(client, history) -> None:  # type: ignore[no-untyped-def]
    g = _groups(client.get("/api/v1/devices/online-rate", params=_period(group_by="kind"),
                           headers=headers(history, "admin")))
    # cameras: CAM-A 18/24 h, CAM-B 20/20 h (maintenance excluded) → 38/44
    assert g["camera"]["numerator"] == 38 * 3600 and g["camera"]["denominator"] == 44 * 3600
    assert g["access_controller"]["online_rate"] == 1.0 and g["access_controller"]["denominator"] == 12 * 3600
    assert g["link"]["online_rate"] == 0.0
    assert g["terminal"]["online_rate"] == 1.0
    assert g["total"]["devices"] == 5
    assert g["total"]["online_rate"] == pytest.approx((38 + 12 + 0 + 24) / (44 + 12 + 24 + 24))


def test_availability_per_grid_and_street_in_scope(client, history) -> None:  # type: ignore[no-untyped-def]
    g = _groups(client.get("/api/v1/devices/online-rate", params=_period(group_by="grid"),
                           headers=headers(history, "street1")))
    assert set(g) == {GRID_A, GRID_B, "total"}  # street 1 only; no grid-less devices for a street admin
    assert g[GRID_A]["online_rate"] == pytest.approx((18 + 12) / (24 + 12))
    assert g[GRID_B]["online_rate"] == 1.0
    s = _groups(client.get("/api/v1/devices/online-rate", params=_period(group_by="street"),
                           headers=headers(history, "admin")))
    assert set(s) == {STREET1, STREET2, "none", "total"} and s[STREET2]["online_rate"] == 0.0
    assert s[STREET1]["label"] == "街道1"
    d = _groups(client.get("/api/v1/devices/online-rate", params=_period(group_by="district"),
                           headers=headers(history, "auditor")))
    assert d["440112"]["label"] == "黄埔区" and d["440112"]["devices"] == 4


@pytest.mark.parametrize(("at", "online", "counted"), [
    (3, 2, 3),  # CAM-A, TERM-X online; CAM-B in maintenance, DOOR-A not installed; LINK-C offline
    (8, 2, 4),  # CAM-A offline; CAM-B back
    (13, 4, 5),
])
def test_snapshot(client, history, at: float, online: int, counted: int) -> None:  # type: ignore[no-untyped-def]
    g = _groups(client.get("/api/v1/devices/online-rate", params={"mode": "snapshot", "at": h(at).isoformat()},
                           headers=headers(history, "admin")))
    assert (g["total"]["numerator"], g["total"]["denominator"]) == (online, counted)


def test_filters_apply_to_rates(client, history) -> None:  # type: ignore[no-untyped-def]
    g = _groups(client.get("/api/v1/devices/online-rate", params=_period(grid_code=GRID_C),
                           headers=headers(history, "admin")))
    assert set(g) == {"link", "total"}


def test_period_errors(client, history) -> None:  # type: ignore[no-untyped-def]
    hd = headers(history, "admin")
    r = client.get("/api/v1/devices/online-rate", params={"mode": "availability"}, headers=hd)
    assert r.status_code == 422 and r.json()["error"]["code"] == "period_required"
    r = client.get("/api/v1/devices/online-rate", params=_period(end=h(-1).isoformat()), headers=hd)
    assert r.json()["error"]["code"] == "invalid_period"
