"""Test data built through the services, so tests exercise the same validation users hit."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import Polygon, box
from sqlalchemy.orm import Session

from gis.crs import CGCS2000, gk_epsg, transform
from gis.shapefile_io import GridFeature
from server.auth import service as auth_service
from server.auth.enums import Role
from server.auth.models import User  # noqa: F401  (tests use factories.User)
from server.events.models import Dispute  # noqa: F401  (tests use factories.Dispute)
from server.auth.schemas import UserCreate
from server.auth.security import create_token
from server.config import get_settings
from server.divisions import service as divisions
from server.grids import imports
from server.grids import service as grids
from server.grids.models import Grid

DISTRICT = "440112"
STREET = "440112001000"
COMMUNITY = "440112001001"
ZONE38 = gk_epsg(38)  # plain GK zone around 114°E (Guangzhou)
PASSWORD = "Kapok-Grid-2026"  # passes the password policy (server.auth.passwords)
X0, Y0 = 479_500.0, 2_555_000.0  # metres in EPSG:4547 (CM 114°E), about 113.8°E 23.1°N
_seq = itertools.count(1)


def gk_square(ix: int, iy: int, size: float = 100.0) -> Polygon:
    """A size×size metre square, cell (ix, iy) of a lattice, as EPSG:4490."""
    return transform(box(X0 + ix * size, Y0 + iy * size, X0 + (ix + 1) * size, Y0 + (iy + 1) * size), ZONE38, CGCS2000)


def tree(db_session: Session, *, streets: int = 2, communities: int = 2) -> None:
    """District 440112 with `streets` streets of `communities` communities each."""
    divisions.create_district(db_session=db_session, code=DISTRICT, name="黄埔区")
    for s in range(1, streets + 1):
        street = f"{DISTRICT}{s:03d}000"
        divisions.create_street(db_session=db_session, code=street, name=f"街道{s}", district_code=DISTRICT)
        for c in range(1, communities + 1):
            divisions.create_community(db_session=db_session, code=f"{street[:9]}{c:03d}", name=f"社区{s}-{c}",
                                       street_code=street)


def grid(db_session: Session, code: str, geometry: Polygon, name: str | None = None) -> Grid:
    report = imports.import_features(
        db_session=db_session, features=[GridFeature(code, name or f"网格{code[-3:]}", code[:12], "综合网格", geometry, {})],
        source_epsg=CGCS2000, encoding="UTF-8")
    assert report.committed, report.findings
    found = grids.get_by_code(db_session=db_session, code=code)
    assert found is not None
    return found


def user(db_session: Session, role: Role, *, street_code: str | None = None, username: str | None = None) -> User:
    name = username or f"{role.value}{next(_seq)}"
    if role in (Role.grid_worker, Role.street_admin) and street_code is None:
        street_code = STREET
    return auth_service.create(db_session=db_session, user_in=UserCreate(
        username=name, full_name=name, password=PASSWORD, role=role, district_code=DISTRICT,
        street_code=street_code))


def token(u: User) -> str:
    return create_token(subject=u.username, role=u.role, secret=get_settings().secret_key, minutes=5,
                        version=u.token_version or 0)


def auth_headers(u: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(u)}"}


def event_body(point: Polygon | None = None, **overrides: object) -> dict[str, object]:
    """A phone's report at the centre of `point`'s square (default: grid cell (0, 0)), in CGCS2000."""
    import uuid as uuid_

    c = (point or gk_square(0, 0)).centroid
    body: dict[str, object] = {
        "uuid": str(uuid_.uuid4()), "category_code": "sanitation.garbage", "description": "楼下垃圾堆放",
        "lon": c.x, "lat": c.y, "datum": "cgcs2000", "gps_accuracy_m": 8.0, "address": "黄埔东路1号",
        "reported_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    body.update(overrides)
    return body


def event_world(db_session: Session) -> dict[str, object]:
    """Street 1: grids A (cell 0,0) and B (cell 1,0) with workers; street 2: grid C (cell 5,5)."""
    tree(db_session)
    a = grid(db_session, "440112001001001", gk_square(0, 0))
    b = grid(db_session, "440112001001002", gk_square(1, 0))
    c = grid(db_session, "440112002001001", gk_square(5, 5))
    users = {
        "worker_a": user(db_session, Role.grid_worker), "worker_b": user(db_session, Role.grid_worker),
        "worker_c": user(db_session, Role.grid_worker, street_code="440112002000"),
        "street1": user(db_session, Role.street_admin), "street2": user(db_session, Role.street_admin,
                                                                         street_code="440112002000"),
        "admin": user(db_session, Role.district_admin), "command": user(db_session, Role.command_center),
        "auditor": user(db_session, Role.auditor),
    }
    since = datetime.now(UTC) - timedelta(days=60)  # assigned well before any visit in the tests
    for key, g in (("worker_a", a), ("worker_b", b), ("worker_c", c)):
        grids.assign_worker(db_session=db_session, grid=g, worker=users[key], at=since)
    return {"grids": {"A": a, "B": b, "C": c}, "users": users}


def device_status(db_session: Session, device: Any, status: str, at: datetime) -> None:
    """One status change of a device, written as the MQTT ingester's batch writes it (its state row
    and a status-interval row, the device feed's cursor): what a heartbeat or status message does."""
    from devices.status import State, Transition
    from server.devices.ingest_batch import Batch, write

    batch = Batch()
    batch.touch(device.id, State(status=status, since=at, last_seen_at=at))
    batch.transition(device.id, Transition(status=status, at=at, reason="status", previous=device.state.status,
                                           previous_since=device.state.status_since))
    write(db_session, batch)
    db_session.expire(device.state)  # written past the ORM: read again when next asked
