"""A world for territory tests: two districts, every kind of record in four places, users of every role.

District 440112: street 1 holds grids A (cell 0,0) and B (cell 1,0), street 2 holds grid C (cell 5,5).
District 440113: grid D (cell 10,10). Each grid has its worker, and in each grid one record of every
kind: an event with a photo, a visit with a photo, an access controller, a rental with a registered
tenant and a tenant detected from a new card (a pending record). Trainings are held by street 1,
street 2 and both districts; each district has a weekly report; the PII log has reads of C and D's
tenants; the dead letters name C and D's controllers.

Every record is tagged with the place whose territory holds it, and carries marker strings (codes,
uuids, hashes, usernames, addresses, card numbers) that appear in any response showing it. `SEES`
says which tags each user's territory holds: everything else is foreign to them.
"""

from __future__ import annotations

import io
import uuid as uuid_
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from server.auth import service as auth_service
from server.auth.enums import Role
from server.auth.models import User
from server.auth.schemas import UserCreate
from server.devices import service as devices
from server.devices.models import CardEvent, DeadLetter
from server.devices.schemas import DeviceCreate
from server.divisions import service as divisions
from server.events import service as events
from server.events.schemas import EventCreate
from server.grids import service as grids
from server.photos import service as photos
from server.rentals import cards, pii
from server.rentals import service as rentals
from server.rentals.models import Tenant, TenantRecord
from server.rentals.schemas import RentalCreate, TenantCreate
from server.reports import service as reports
from server.reports.models import Training
from server.visits import service as visits
from server.visits.schemas import VisitCreate
from tests import factories
from tests.conftest import NOW

DISTRICT1, DISTRICT2 = "440112", "440113"
STREET1, STREET2, STREET3 = "440112001000", "440112002000", "440113001000"
PLACES: dict[str, tuple[str, tuple[int, int]]] = {  # grid code, lattice cell
    "A": ("440112001001001", (0, 0)),
    "B": ("440112001001002", (1, 0)),
    "C": ("440112002001001", (5, 5)),
    "D": ("440113001001001", (10, 10)),
}
STREET_OF = {"A": STREET1, "B": STREET1, "C": STREET2, "D": STREET3}
COLOURS = {"A": (200, 10, 10), "B": (10, 200, 10), "C": (10, 10, 200), "D": (200, 200, 10)}

# Tags: a grid (A-D), a street's trainings (S1, S2), a district's trainings (T1, T2), a district's weekly
# report (R1, R2). What each user's territory holds; a user not listed holds nothing.
ALL_TAGS = frozenset({"A", "B", "C", "D", "S1", "S2", "T1", "T2", "R1", "R2"})
SEES: dict[str, frozenset[str]] = {
    "wkrA": frozenset({"A"}), "wkrB": frozenset({"B"}), "wkrC": frozenset({"C"}), "wkrD": frozenset({"D"}),
    "adm-street1": frozenset({"A", "B", "S1", "T1"}), "adm-street2": frozenset({"C", "S2", "T1"}),
    "adm-district": frozenset({"A", "B", "C", "S1", "S2", "T1", "R1"}),
    "cmd-district": frozenset({"A", "B", "C", "S1", "S2", "T1", "R1"}),
    "aud-district": frozenset({"A", "B", "C", "S1", "S2", "T1", "R1"}),
    "adm-panyu": frozenset({"D", "T2", "R2"}),
}
# Users whose territory is nothing: (username, role as stored, district_code, street_code).
NOBODIES: list[tuple[str, str, str | None, str | None]] = [
    ("nobody-mayor", "mayor", DISTRICT1, STREET1),  # a role this version does not know
    ("nobody-admin", Role.district_admin.value, None, None),
    ("nobody-command", Role.command_center.value, None, None),
    ("nobody-auditor", Role.auditor.value, None, None),
    ("nobody-admin-bad", Role.district_admin.value, "4401", None),  # not a district code
    ("nobody-street", Role.street_admin.value, DISTRICT1, None),
    ("nobody-street-community", Role.street_admin.value, DISTRICT1, "440112001001"),  # a community's code
    ("nobody-street-short", Role.street_admin.value, DISTRICT1, "440112001"),
    ("nobody-street-elsewhere", Role.street_admin.value, DISTRICT1, STREET3),  # a street of another district
]


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def id_number(prefix17: str) -> str:
    """A resident ID with a valid GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return prefix17 + "10X98765432"[sum(int(c) * w for c, w in zip(prefix17, weights)) % 11]


def centre(cell: tuple[int, int]) -> tuple[float, float]:
    c = factories.gk_square(*cell).centroid
    return c.x, c.y


@dataclass
class Place:
    """The records of one grid: identifiers by kind, and the strings that show them."""

    tag: str
    grid: str
    street: str
    cell: tuple[int, int]
    worker: User
    event: str = ""
    visit: str = ""
    photos: list[str] = field(default_factory=list)  # the event's, then the visit's
    device: str = ""
    rental: int = 0
    tenant: int = 0
    pending_tenant: int = 0
    record: int = 0
    markers: list[str] = field(default_factory=list)


@dataclass
class World:
    users: dict[str, User]
    places: dict[str, Place]
    reports: dict[str, int]  # R1, R2 → weekly report id
    markers: dict[str, list[str]]  # tag → strings that show a record of it

    def foreign_tags(self, username: str) -> frozenset[str]:
        return ALL_TAGS - SEES.get(username, frozenset())

    def foreign_markers(self, username: str) -> dict[str, str]:
        """marker → tag, for every record outside the user's territory."""
        return {m: tag for tag in sorted(self.foreign_tags(username)) for m in self.markers[tag]}


def _user(db_session: Session, username: str, role: Role, district: str, street: str | None = None) -> User:
    return auth_service.create(db_session=db_session, user_in=UserCreate(
        username=username, full_name=username, password=factories.PASSWORD, role=role, district_code=district,
        street_code=street))


def _nobody(db_session: Session, username: str, role: str, district: str | None, street: str | None) -> User:
    """Written straight to the table: the API would refuse to create most of these."""
    u = User(username=username, full_name=username, hashed_password="x", role=role, district_code=district,
             street_code=street, is_active=True)
    db_session.add(u)
    db_session.flush()
    return u


def _tree(db_session: Session) -> None:
    factories.tree(db_session)  # 440112, streets 001 and 002, two communities each
    divisions.create_district(db_session=db_session, code=DISTRICT2, name="番禺区")
    divisions.create_street(db_session=db_session, code=STREET3, name="街道3", district_code=DISTRICT2)
    divisions.create_community(db_session=db_session, code="440113001001", name="社区3-1", street_code=STREET3)


def _place(db_session: Session, tag: str, worker: User) -> Place:
    code, cell = PLACES[tag]
    since = NOW - timedelta(days=60)
    grids.assign_worker(db_session=db_session, grid=grids.get_by_code(db_session=db_session, code=code),
                        worker=worker, at=since)
    p = Place(tag=tag, grid=code, street=STREET_OF[tag], cell=cell, worker=worker)
    event_photo, _ = photos.store(db_session=db_session, data=jpeg(COLOURS[tag]), uploader=worker)
    visit_photo, _ = photos.store(db_session=db_session, data=jpeg(COLOURS[tag], (48, 64)), uploader=worker)
    p.photos = [event_photo.sha256, visit_photo.sha256]
    body = factories.event_body(factories.gk_square(*cell), photos=[event_photo.sha256], description=f"事件{tag}")
    event, _ = events.create(db_session=db_session, reporter=worker, data=EventCreate(**body), now=NOW)
    p.event = event.uuid
    sq = factories.gk_square(*cell)
    minx, miny, maxx, maxy = sq.bounds
    points = [{"lon": minx + (maxx - minx) * (i + 1) / 6, "lat": (miny + maxy) / 2} for i in range(5)]
    visit, _ = visits.create(db_session=db_session, worker=worker, now=NOW, data=VisitCreate(
        uuid=uuid_.uuid4(), started_at=NOW - timedelta(hours=2), ended_at=NOW - timedelta(hours=1),
        datum="cgcs2000", points=points, photos=[visit_photo.sha256], notes=f"走访{tag}"))
    p.visit = visit.uuid
    lon, lat = centre(cell)
    door, _ = devices.create(db_session=db_session, now=NOW, device_in=DeviceCreate(
        code=f"DOOR-{tag}", name=f"门禁{tag}", kind=DeviceKind.access_controller, lon=lon, lat=lat))
    p.device = door.code
    factories.device_status(db_session, door, "online", NOW - timedelta(hours=1))  # in the device feed
    rental = rentals.create_rental(db_session=db_session, now=NOW, rental_in=RentalCreate(
        address=f"addr-rental-{tag}", landlord_name="陈大文", landlord_phone="13800138000", lon=lon, lat=lat))
    p.rental = rental.id
    rentals.link_controller(db_session=db_session, user=None, rental=rental, device_code=door.code, now=NOW)
    tenant = rentals.register_tenant(db_session=db_session, rental=rental, actor=worker.username, now=NOW,
                                     tenant_in=TenantCreate(name=f"租客{tag}", card_no=f"card-reg-{tag}",
                                                            id_number=id_number(f"44010619900101{ord(tag):03d}")))
    p.tenant = tenant.id
    db_session.add(CardEvent(device_id=door.id, ts=NOW - timedelta(days=1), seq=ord(tag), card_no=f"card-new-{tag}",
                             action="issued"))
    p.markers = [code, p.event, p.visit, *p.photos, p.device, f"addr-rental-{tag}", f"card-reg-{tag}",
                 f"card-new-{tag}", worker.username, f"事件{tag}", f"走访{tag}"]
    return p


def build(db_session: Session) -> World:
    """The whole world; a few hundred milliseconds."""
    _tree(db_session)
    for tag, (code, cell) in PLACES.items():
        factories.grid(db_session, code, factories.gk_square(*cell))
    users = {
        "wkrA": _user(db_session, "wkrA", Role.grid_worker, DISTRICT1, STREET1),
        "wkrB": _user(db_session, "wkrB", Role.grid_worker, DISTRICT1, STREET1),
        "wkrC": _user(db_session, "wkrC", Role.grid_worker, DISTRICT1, STREET2),
        "wkrD": _user(db_session, "wkrD", Role.grid_worker, DISTRICT2, STREET3),
        "adm-street1": _user(db_session, "adm-street1", Role.street_admin, DISTRICT1, STREET1),
        "adm-street2": _user(db_session, "adm-street2", Role.street_admin, DISTRICT1, STREET2),
        "adm-district": _user(db_session, "adm-district", Role.district_admin, DISTRICT1),
        "cmd-district": _user(db_session, "cmd-district", Role.command_center, DISTRICT1),
        "aud-district": _user(db_session, "aud-district", Role.auditor, DISTRICT1),
        "adm-panyu": _user(db_session, "adm-panyu", Role.district_admin, DISTRICT2),
    }
    users.update({name: _nobody(db_session, name, role, d, s) for name, role, d, s in NOBODIES})
    places = {tag: _place(db_session, tag, users[f"wkr{tag}"]) for tag in PLACES}
    db_session.flush()
    cards.sync_cards(db_session=db_session, no_entry_days=30, now=NOW)  # the new cards: pending tenants
    for p in places.values():
        pending = db_session.query(Tenant).filter_by(rental_id=p.rental, card_no=f"card-new-{p.tag}").one()
        p.pending_tenant = pending.id
        p.record = db_session.query(TenantRecord).filter_by(tenant_id=pending.id, status="pending").one().id
    # full personal data read by each tenant's own admins: the PII log
    for reader, tag in (("adm-street2", "C"), ("adm-panyu", "D")):
        pii.audit_read(db_session, user=users[reader], record_type="tenant", record_id=places[tag].tenant,
                       fields="name,id_number,phone", now=NOW)
        places[tag].markers.append(reader)
    for tag in ("C", "D"):
        db_session.add(DeadLetter(received_at=NOW, topic=f"gridops/v1/door/DOOR-{tag}/status",
                                  device_code=f"DOOR-{tag}",
                                  reason="bad_payload", detail="not JSON", payload=f"garbage-{tag}"))
        places[tag].markers.append(f"garbage-{tag}")
    trainings = {"S1": (STREET1, DISTRICT1), "S2": (STREET2, DISTRICT1), "T1": (None, DISTRICT1),
                 "T2": (None, DISTRICT2)}
    for tag, (street, district) in trainings.items():
        db_session.add(Training(title=f"training-{tag}", held_at=NOW - timedelta(days=3), street_code=street,
                                district_code=district, attendees=10, created_by=users["adm-district"].id))
    report_ids = {}
    for tag, district, by in (("R1", DISTRICT1, "adm-district"), ("R2", DISTRICT2, "adm-panyu")):
        row, _ = reports.produce_weekly(db_session=db_session, district_code=district, area=f"AREA-{district}",
                                        week_start=NOW.date(), now=NOW, user=users[by])
        report_ids[tag] = row.id
    db_session.flush()
    markers: dict[str, list[str]] = {tag: p.markers for tag, p in places.items()}
    markers.update({tag: [f"training-{tag}"] for tag in trainings})
    markers.update({"R1": [f"AREA-{DISTRICT1}"], "R2": [f"AREA-{DISTRICT2}"]})
    markers["C"] += [STREET2, "440112002001"]  # street 2 and its community: the tree outside street 1
    markers["D"] += [STREET3, "440113001001"]
    return World(users=users, places=places, reports=report_ids, markers=markers)


def nobody_names() -> list[str]:
    return [n for n, *_ in NOBODIES]


def scopes_of(tag: str) -> list[str]:
    """Indicator scopes holding a place, from its grid up to its district."""
    code = PLACES[tag][0]
    return [f"grid:{code}", f"community:{code[:12]}", f"street:{code[:9]}", f"district:{code[:6]}"]


def headers(world: World, username: str) -> dict[str, str]:
    return factories.auth_headers(world.users[username])


def as_text(content: bytes) -> str:
    """A response body as text to search: zips (shapefiles, xlsx, docx) unpacked member by member."""
    import zipfile

    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    return content.decode("utf-8", "replace")


def leaks(world: World, username: str, content: bytes) -> list[tuple[str, str]]:
    """(tag, marker) of every foreign record the body shows."""
    text = as_text(content)
    return sorted((tag, m) for m, tag in world.foreign_markers(username).items() if m in text)



# ---------------------------------------------------------------- the app's routes, found rather than listed

def api_routes(app) -> list[tuple[str, str, Any]]:  # type: ignore[no-untyped-def]
    """(method, path, route) for every route the app serves (HEAD left out), as mounted."""
    try:  # FastAPI ≥ 0.13x mounts included routers lazily; this walks them
        from fastapi.routing import iter_route_contexts
        contexts = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover
        contexts = list(app.routes)
    out = []
    for r in contexts:
        for method in sorted((r.methods or set()) - {"HEAD"}):
            out.append((method, r.path, getattr(r, "original_route", r)))
    return sorted(out, key=lambda x: (x[1], x[0]))


def role_gated(route: Any) -> bool:
    """Whether a require_roles(...) check guards the route."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dep = stack.pop()
        if dep is None:
            continue
        if "require_roles" in getattr(dep.call, "__qualname__", ""):
            return True
        stack.extend(dep.dependencies)
    return False


def path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)


def required_query(route: Any) -> list[str]:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    stack, names = [dependant], []
    while stack:
        dep = stack.pop()
        names += [p.alias for p in dep.query_params if p.field_info.is_required()]
        stack.extend(dep.dependencies)
    return names
