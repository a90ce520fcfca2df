"""Retirement dates are checked against the installation and the clock; retire bodies are checked
against their schema (a device retired in 1969, and a grid retired with any body, were accepted)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.codes import DeviceKind
from tests.conftest import NOW
from tests.server.devices.conftest import GRID_A, headers, make_device, world  # noqa: F401  (fixture)

ADMIN = "admin"


@pytest.fixture
def installed(db_session, world):  # type: ignore[no-untyped-def]  # noqa: F811
    make_device(db_session, "CAM-I", DeviceKind.camera, installed_at="2026-03-01")  # 2026-02-28T16:00Z
    return world


def _retire(client, world, code: str, body: object):  # type: ignore[no-untyped-def]  # noqa: F811
    return client.post(f"/api/v1/devices/{code}/retire", json=body, headers=headers(world, ADMIN))


@pytest.mark.parametrize(("retired_at", "code"), [
    ("1969-07-20T20:17:00Z", "datetime_out_of_range"),
    ("2026-02-28", "retired_before_installed"),
    ("2026-02-28T15:59:59Z", "retired_before_installed"),
    ((NOW + timedelta(days=1)).isoformat(), "retired_in_future"),
    ("2099-12-31", "retired_in_future"),
])
def test_impossible_retirement_dates_are_refused(client, installed, retired_at: str, code: str) -> None:  # type: ignore[no-untyped-def]
    r = _retire(client, installed, "CAM-I", {"retired_at": retired_at})
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    assert client.get("/api/v1/devices/CAM-I", headers=headers(installed, ADMIN)).json()["retired_at"] is None


@pytest.mark.parametrize("retired_at", ["2026-03-01", "2026-02-28T16:00:00Z", (NOW + timedelta(minutes=2)).isoformat()])
def test_possible_retirement_dates_are_kept(client, installed, retired_at: str) -> None:  # type: ignore[no-untyped-def]
    r = _retire(client, installed, "CAM-I", {"retired_at": retired_at})
    assert r.status_code == 200 and r.json()["retired_at"] is not None, r.text


def test_without_installation_date_any_past_date_after_2000_is_possible(client, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """No installed_at means installed before anything we know of (README: devices)."""
    assert _retire(client, world, "CAM-A", {"retired_at": "2020-01-01"}).status_code == 200


def test_installation_after_the_retirement_is_refused(client, installed) -> None:  # type: ignore[no-untyped-def]
    assert _retire(client, installed, "CAM-I", {"retired_at": "2026-06-01"}).status_code == 200
    r = client.patch("/api/v1/devices/CAM-I", json={"installed_at": "2026-07-01"}, headers=headers(installed, ADMIN))
    assert r.status_code == 422 and r.json()["error"]["code"] == "retired_before_installed"


@pytest.mark.parametrize("body", [{"retired": "2026-06-01"}, {"retired_at": "2026-06-01", "reason": "x"}, [], "now"])
def test_device_retire_body_must_match_its_schema(client, world, body: object) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    r = _retire(client, world, "CAM-A", body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text


@pytest.mark.parametrize("body", [{"replaced_by": "440112001001002"}, {"anything": 1}, [], "x", 42])
def test_grid_retire_body_must_match_its_schema(client, world, body: object) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    r = client.post(f"/api/v1/grids/{GRID_A}/retire", json=body, headers=headers(world, ADMIN))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text
    grid = client.get(f"/api/v1/grids/{GRID_A}", headers=headers(world, ADMIN)).json()
    assert grid["retired_at"] is None
