"""Rentals reuse the device world: grids A, B (street 1), C (street 2), users of every role."""

from __future__ import annotations

import pytest

from server.rentals import service
from server.rentals.schemas import RentalCreate
from tests.server.devices.conftest import centre, headers, world  # noqa: F401  (fixture)
from tests.conftest import NOW

ID_A = "11010519491231002X"  # GB 11643 example number, valid check digit
ID_B = "440106199001011234"


def valid_id(prefix17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return prefix17 + "10X98765432"[sum(int(c) * w for c, w in zip(prefix17, weights)) % 11]


def make_rental(db_session, cell: tuple[int, int] = (0, 0), **extra):  # type: ignore[no-untyped-def]
    lon, lat = centre(*cell)
    fields = {"address": f"黄埔东路{cell[0]}{cell[1]}号", "landlord_name": "陈大文", "landlord_phone": "13800138000",
              "lon": lon, "lat": lat, "rooms": 6, **extra}
    return service.create_rental(db_session=db_session, rental_in=RentalCreate(**fields), now=NOW)


@pytest.fixture
def rentals(db_session, world):  # type: ignore[no-untyped-def]
    """Rental 1 in grid A (managed), rental 2 in grid B, rental 3 in grid C (street 2)."""
    return {
        "r1": make_rental(db_session, (0, 0), managed=True, managed_at="2026-01-01"),
        "r2": make_rental(db_session, (2, 0)),
        "r3": make_rental(db_session, (5, 5)),
        "world": world,
    }
