"""A small world for device tests: two streets, three grids, users of every role, devices."""

from __future__ import annotations

from typing import Any

import pytest

from devices.codes import DeviceKind
from server.auth.enums import Role
from server.devices import service
from server.devices.schemas import DeviceCreate
from server.grids import service as grids
from tests import factories
from tests.conftest import NOW, BACKENDS, fresh_database_url

GRID_A, GRID_B, GRID_C = "440112001001001", "440112001002001", "440112002001001"
STREET1, STREET2 = "440112001000", "440112002000"


def centre(ix: int, iy: int) -> tuple[float, float]:
    c = factories.gk_square(ix, iy).centroid
    return c.x, c.y


def make_device(db_session, code: str, kind: DeviceKind = DeviceKind.camera, cell: tuple[int, int] | None = (0, 0),
                **extra: Any):  # type: ignore[no-untyped-def]
    lon, lat = centre(*cell) if cell else (None, None)
    fields: dict[str, Any] = {"code": code, "name": f"设备{code}", "kind": kind, "lon": lon, "lat": lat, **extra}
    device, _ = service.create(db_session=db_session, device_in=DeviceCreate(**fields), now=NOW)
    return device


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    """Grid A (cell 0,0) and B (cell 2,0) in street 1, grid C (cell 5,5) in street 2; a worker on A."""
    factories.tree(db_session)
    a = factories.grid(db_session, GRID_A, factories.gk_square(0, 0))
    factories.grid(db_session, GRID_B, factories.gk_square(2, 0))
    factories.grid(db_session, GRID_C, factories.gk_square(5, 5))
    worker = factories.user(db_session, Role.grid_worker)
    grids.assign_worker(db_session=db_session, grid=a, worker=worker, at=NOW)
    users = {
        "admin": factories.user(db_session, Role.district_admin),
        "street1": factories.user(db_session, Role.street_admin),
        "street2": factories.user(db_session, Role.street_admin, street_code=STREET2),
        "worker": worker,
        "auditor": factories.user(db_session, Role.auditor),
        "command": factories.user(db_session, Role.command_center),
    }
    devices = {
        "CAM-A": make_device(db_session, "CAM-A", cell=(0, 0)),
        "DOOR-A": make_device(db_session, "DOOR-A", DeviceKind.access_controller, cell=(0, 0)),
        "CAM-B": make_device(db_session, "CAM-B", cell=(2, 0)),
        "LINK-C": make_device(db_session, "LINK-C", DeviceKind.link, cell=(5, 5)),
        "TERM-X": make_device(db_session, "TERM-X", DeviceKind.terminal, cell=None),  # no location, no grid
    }
    return {"users": users, "devices": devices}


def headers(world, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factories.auth_headers(world["users"][who])


# ---------------------------------------------------------------- a committed database for the ingester

DEVICE_TABLES = ["device_dead_letter", "device_alarm", "device_door_event", "device_card_event",
                 "device_status_interval", "device_maintenance", "device_state", "device"]


@pytest.fixture(scope="module", params=BACKENDS)
def ingest_engine(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A database of its own per module and back end: the ingester commits for real."""
    from server.database.core import make_engine
    from server.database.migrate import upgrade

    name = "gridops_dev_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    url = fresh_database_url(request.param, tmp_path_factory.mktemp("ingest"), name)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def ingest_db(ingest_engine):  # type: ignore[no-untyped-def]
    """A sessionmaker on an emptied device registry."""
    from sqlalchemy import text
    from sqlalchemy.orm import sessionmaker

    with ingest_engine.begin() as conn:
        for table in DEVICE_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    return sessionmaker(bind=ingest_engine, expire_on_commit=False)


def register(session_factory, *specs: tuple[str, DeviceKind], interval_s: int = 60) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Register devices (no location) and commit; code → id."""
    out = {}
    with session_factory() as db:
        for code, kind in specs:
            d, _ = service.create(db_session=db, device_in=DeviceCreate(
                code=code, name=code, kind=kind, heartbeat_interval_s=interval_s), now=NOW)
            out[code] = d.id
        db.commit()
    return out
