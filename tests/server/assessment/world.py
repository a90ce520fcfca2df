"""A hand-made October 2026 (Asia/Shanghai) whose scores are worked out in the tests.

Street 1: grid A (w1 all month), grid B (w2 until 16 Oct, then w3, who was not assigned before:
on leave / newly hired). Street 2: grid C (w2 from 16 Oct; w4 only from 25 Oct, too short to rank).
Records are written as rows with their times, as if the phones and the office had sent them then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPoint
from sqlalchemy.orm import Session

from gis.crs import CGCS2000
from server.auth.enums import Role
from server.auth.models import User
from server.events.models import Event, EventHistory
from server.grids.models import Grid, GridAssignment
from server.indicators.periods import TZ
from server.keypersons.models import KeyPerson, KeyPersonUpdate
from server.visits.models import Visit
from tests import factories

MONTH = "2026-10"
STREET1, STREET2 = "440112001000", "440112002000"


def local(day: int, hour: int = 10, month: int = 10) -> datetime:
    """A day of the month at a local (Asia/Shanghai) hour, in UTC."""
    return datetime(2026, month, day, hour, tzinfo=TZ).astimezone(UTC)


MOVE = local(16, 0)  # w2 leaves B for C, w3 takes B
W4_FROM = local(25, 0)


@dataclass
class World:
    grids: dict[str, Grid]
    users: dict[str, User]


def event(db: Session, world: World, *, grid: str, reporter: str, reported: datetime, created: datetime | None = None,
          photo: bool = True, due: datetime | None = None, closed: datetime | None = None,
          dispatched: datetime | None = None, state: str = "reported") -> Event:
    g = world.grids[grid]
    c = factories.gk_square(*{"A": (0, 0), "B": (1, 0), "C": (5, 5)}[grid]).centroid
    e = Event(uuid=str(uuid.uuid4()), request_hash="x", category_code="sanitation.garbage",
              description="楼下垃圾堆放已经三天无人清理", address="黄埔东路1号", geom=from_shape(c, srid=CGCS2000),
              lon=c.x, lat=c.y, source_datum="cgcs2000", gps_accuracy_m=8.0, reporter_id=world.users[reporter].id,
              grid_id=g.id, street_code=g.code[:9] + "000", state="closed" if closed else state, reported_at=reported,
              created_at=created or reported, updated_at=reported, closure_due_at=due or local(28, month=12),
              closed_at=closed, closed_on_time=None if closed is None else closed <= (due or closed),
              photos=["a" * 64] if photo else [])
    db.add(e)
    db.flush()
    if dispatched:
        db.add(EventHistory(event_id=e.id, kind="transition", from_state="accepted", to_state="dispatched",
                            at=dispatched, data={}, attachments=[]))
        db.flush()
    return e


def visit(db: Session, world: World, worker: str, started: datetime, *, counted: bool = True,
          reason: str | None = None) -> Visit:
    c = factories.gk_square(0, 0).centroid
    v = Visit(uuid=str(uuid.uuid4()), request_hash="x", worker_id=world.users[worker].id, street_code=STREET1,
              grid_id=None, started_at=started, ended_at=started, geom=from_shape(MultiPoint([c]), srid=CGCS2000),
              points=[], households=[], photos=[], counted=counted, not_counted_reason=reason, created_at=started)
    db.add(v)
    db.flush()
    return v


def key_person(db: Session, world: World, grid: str, type_code: str, registered: datetime,
               updates: list[datetime]) -> KeyPerson:
    p = KeyPerson(type_code=type_code, name_enc="x", grid_id=world.grids[grid].id, registered_at=registered,
                  registered_by=world.users["street1"].id)
    db.add(p)
    db.flush()
    for at in updates:
        db.add(KeyPersonUpdate(uuid=str(uuid.uuid4()), key_person_id=p.id, actor_id=world.users["wk1"].id, at=at,
                               created_at=at))
    db.flush()
    return p


def assign(db: Session, world: World, worker: str, grid: str, start: datetime, end: datetime | None = None) -> None:
    db.add(GridAssignment(grid_id=world.grids[grid].id, user_id=world.users[worker].id, valid_from=start,
                          valid_to=end))
    db.flush()


def build(db: Session) -> World:
    factories.tree(db)
    grids = {"A": factories.grid(db, "440112001001001", factories.gk_square(0, 0)),
             "B": factories.grid(db, "440112001001002", factories.gk_square(1, 0)),
             "C": factories.grid(db, "440112002001001", factories.gk_square(5, 5))}
    users = {name: factories.user(db, Role.grid_worker, username=name, street_code=street)
             for name, street in (("wk1", STREET1), ("wk2", STREET1), ("wk3", STREET1), ("wk4", STREET2))}
    users |= {"street1": factories.user(db, Role.street_admin, username="street1"),
              "street2": factories.user(db, Role.street_admin, username="street2", street_code=STREET2),
              "admin": factories.user(db, Role.district_admin, username="admin"),
              "auditor": factories.user(db, Role.auditor, username="auditor")}
    for u in users.values():
        u.full_time = True
    w = World(grids, users)
    long_ago = local(1, month=6)
    assign(db, w, "wk1", "A", long_ago)
    assign(db, w, "wk2", "B", long_ago, MOVE)
    assign(db, w, "wk2", "C", MOVE)
    assign(db, w, "wk3", "B", MOVE)
    assign(db, w, "wk4", "C", W4_FROM)
    _w1(db, w)
    _w2(db, w)
    _w3(db, w)
    return w


def _w1(db: Session, w: World) -> None:
    event(db, w, grid="A", reporter="wk1", reported=local(3))  # quality 30
    event(db, w, grid="A", reporter="wk1", reported=local(5), photo=False)  # quality 20 (no photo)
    for day in range(1, 11):
        visit(db, w, "wk1", local(day))  # 10 counted, synced on days 1–10
    visit(db, w, "wk1", local(11), counted=False, reason="outside_assigned_grids")  # day 11, −1
    # dispatched in A in October: one closed on time, one late (also overdue, due 8 Oct)
    event(db, w, grid="A", reporter="wk2", reported=local(1, month=9), due=local(20), closed=local(18),
          dispatched=local(2))
    event(db, w, grid="A", reporter="wk2", reported=local(1, month=9), due=local(8), closed=local(10),
          dispatched=local(4))
    event(db, w, grid="A", reporter="wk2", reported=local(1, month=9), due=local(20))  # never closed: overdue
    # key persons of A: a monthly one updated in time, a quarterly one never updated (due 31 Oct 08:00 local)
    key_person(db, w, "A", "mental_health", local(1, month=9), [local(20, month=9), local(15)])
    key_person(db, w, "A", "other", datetime(2026, 8, 1, tzinfo=UTC), [])


def _w2(db: Session, w: World) -> None:
    for day in range(1, 5):
        event(db, w, grid="B", reporter="wk2", reported=local(day))
    for day in range(1, 16):
        visit(db, w, "wk2", local(day))
        if day > 10:
            visit(db, w, "wk2", local(day, 15))  # 20 counted on 15 days
    event(db, w, grid="B", reporter="wk1", reported=local(1, month=9), due=local(10))  # w2's part of B: −2
    event(db, w, grid="B", reporter="wk1", reported=local(1, month=9), due=local(20))  # w3's part of B
    event(db, w, grid="C", reporter="wk1", reported=local(1, month=9), due=local(5))  # C before w2 came


def _w3(db: Session, w: World) -> None:
    event(db, w, grid="B", reporter="wk3", reported=local(17))
    event(db, w, grid="B", reporter="wk3", reported=local(18))
    event(db, w, grid="B", reporter="wk3", reported=local(19))  # 3 ≥ 4 × 16/31
    for day in range(17, 25):
        visit(db, w, "wk3", local(day))  # 8 counted on 8 days
