"""Rental housing (出租屋), tenants (来穗人员) and access-controller card events for the demo year.

* About five rentals per grid: most on the ledger and managed (纳管) long before the year, some
  let during it and managed some days later, a few closed; the share never managed differs by
  street, so the managed rate lands around its 98 % target, some streets above, some below.
* Ordinary rentals: the grid worker registers a tenant some days after they move in (confirmed
  at once, as the API does) and reports the move-out; what the worker has not reported by `now`
  is not in the platform.
* One rental building behind each demo access controller: cards are issued, swiped and revoked
  (or the tenant just stops coming: the no-entry rule), and a fifth of the tenants are away for
  over a month once (a false no-entry detection the worker rejects). The card events are written
  day by day and read by the real card sync (server.rentals.cards); a worker then confirms most
  detections some days later through the rentals service, a backlog stays pending. So the
  registration and deregistration rates are what the platform itself computes from its records.
Personal data goes through server.rentals.pii (encrypted, keyed hash), never stored in clear.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from gis.codes import serial_of, street_of
from gis.crs import CGCS2000
from server.auth.models import User
from server.config import get_settings
from server.demo_operations import local_midnights, point_in
from server.devices.models import CardEvent, Device
from server.errors import Conflict, GridopsError
from server.geometry import to_shapely
from server.grids.models import Grid, GridAssignment
from server.keys import pii_key
from server.rentals import pii
from server.rentals import service as rentals
from server.rentals.cards import sync_cards
from server.rentals.models import Rental, RentalAccessController, Tenant, TenantRecord
from server.rentals.schemas import TenantCreate

# Share of rentals never managed, per street in code order: managed rates ≈ 97–99 %.
STREET_UNMANAGED = (0.001, 0.004, 0.012, 0.036, 0.002, 0.009)
NEW_PER_YEAR = 0.12  # rentals added to the ledger in a year, as a share of all
RENTALS_PER_GRID = 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅文斌辉鹏飞建国海燕小春晓东志宏"
# Home counties of people moving to Guangzhou for work (GB/T 2260 codes): 湖南, 广西, 江西, 四川, 河南, 粤东西北.
HOME_COUNTIES = ("430521", "430923", "452122", "450881", "362102", "360721", "510722", "511621", "411526",
                 "412726", "441581", "440882", "445281", "441424")


def pii_available() -> bool:
    """Tenants carry ID numbers and phones: without a PII key (and outside GRIDOPS_DEMO) the demo has none."""
    try:
        pii_key(get_settings())
    except GridopsError:
        return False
    return True


def _check_digit(first17: str) -> str:
    """GB 11643-1999: weights 2^(17−i) mod 11, remainder → check character."""
    return "10X98765432"[sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17)) % 11]


def person(rnd: random.Random, at: datetime) -> tuple[str, str, str]:
    """(name, resident ID number, mobile phone) of someone 18–60 years old at `at`."""
    name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2, 2))))
    birth = at - timedelta(days=rnd.uniform(18 * 365.25, 60 * 365.25))
    first17 = rnd.choice(HOME_COUNTIES) + f"{birth:%Y%m%d}" + str(rnd.randrange(1000)).zfill(3)  # an ID number
    phone = f"1{rnd.choice('3578')}{rnd.randrange(10 ** 9):09d}"
    return name, first17 + _check_digit(first17), phone


@dataclass(frozen=True)
class Plan:
    """A controller tenant's fate, known to the generator (not to the platform): when they leave, when
    they are back from a long trip."""

    moved_out: datetime | None
    back: datetime | None


@dataclass
class Ids:
    """Next ids of the tables written in bulk (rows reference each other before any insert)."""

    rental: int
    tenant: int
    record: int

    def take(self, table: str) -> int:
        value = getattr(self, table)
        setattr(self, table, value + 1)
        return value


@dataclass
class Rows:
    rentals: list[dict[str, Any]]
    tenants: list[dict[str, Any]]
    records: list[dict[str, Any]]
    controllers: list[dict[str, Any]]


def _tenant_row(rnd: random.Random, ids: Ids, rental_id: int, moved_in: datetime, registered: datetime,
                source: str, card_no: str | None = None) -> dict[str, Any]:
    name, id_number, phone = person(rnd, moved_in)
    return {"id": ids.take("tenant"), "rental_id": rental_id, "name": name, "id_type": "resident_id",
            "id_number_enc": pii.encrypt(id_number), "id_number_hash": pii.id_hash(id_number),
            "phone_enc": pii.encrypt(phone), "card_no": card_no, "status": "registered", "source": source,
            "moved_in_at": moved_in, "registered_at": registered, "deregistered_at": None,
            "last_entry_at": None, "created_at": registered}


def _record(ids: Ids, tenant_id: int, kind: str, source: str, occurred: datetime, decided: datetime,
            actor: str) -> dict[str, Any]:
    return {"id": ids.take("record"), "tenant_id": tenant_id, "kind": kind, "status": "confirmed",
            "source": source, "occurred_at": occurred, "decided_at": decided, "decided_by": actor}


def _rental_row(rnd: random.Random, ids: Ids, grid: tuple[int, str, Any], point: tuple[float, float],
                created: datetime, managed_at: datetime | None, closed: datetime | None, rooms: int,
                building: str | None) -> dict[str, Any]:
    landlord, _, phone = person(rnd, created)
    community = serial_of(grid[1][:12])
    return {"id": ids.take("rental"), "address": f"第{community}社区{rnd.randint(1, 60)}巷{rnd.randint(1, 40)}号",
            "building": building, "rooms": rooms, "landlord_name": landlord,
            "landlord_phone_enc": pii.encrypt(phone), "location": from_shape(Point(*point), srid=CGCS2000),
            "grid_id": grid[0], "managed": managed_at is not None, "managed_at": managed_at, "closed_at": closed,
            "created_at": created}


class Year:
    """The generator: ordinary rentals in bulk, then the controller buildings replayed day by day."""

    def __init__(self, db_session: Session, *, now: datetime, days: int, seed: int) -> None:
        self.s, self.now, self.rnd = db_session, now, random.Random(seed)
        self.seed = seed
        self.start = now - timedelta(days=days)
        self.midnights = local_midnights(now, days)
        self.ids = Ids(*((db_session.scalar(select(func.max(m.id))) or 0) + 1 for m in (Rental, Tenant, TenantRecord)))
        self.rows = Rows([], [], [], [])
        self.workers = dict(db_session.execute(
            select(GridAssignment.grid_id, User.username).join(User, User.id == GridAssignment.user_id)
            .where(GridAssignment.valid_to.is_(None))).all())
        self.streets = sorted({street_of(c) for c in db_session.scalars(select(Grid.code))})

    def days(self, lo: float, hi: float) -> timedelta:
        return timedelta(days=self.rnd.uniform(lo, hi))

    def exp_days(self, mean: float) -> timedelta:
        return timedelta(days=self.rnd.expovariate(1 / mean))

    # Ordinary rentals: the worker registers and deregisters, confirmed at once.
    def ordinary(self, grid: tuple[int, str, Any]) -> None:
        unmanaged = STREET_UNMANAGED[self.streets.index(street_of(grid[1])) % len(STREET_UNMANAGED)]
        worker = self.workers.get(grid[0], "admin")
        for _ in range(max(1, round(self.rnd.gauss(RENTALS_PER_GRID, 1.3)))):
            new = self.rnd.random() < NEW_PER_YEAR * (self.now - self.start).days / 365
            created = self.start + self.days(0, (self.now - self.start).days - 3) if new \
                else self.start - self.days(60, 1500)
            managed_at = None if self.rnd.random() < unmanaged else created + self.exp_days(20)
            managed_at = managed_at if managed_at and managed_at <= self.now else None
            closed = self.now - self.days(0, 300) if self.rnd.random() < 0.03 else None
            closed = closed if closed and closed > created else None
            rental = _rental_row(self.rnd, self.ids, grid, point_in(self.rnd, grid[2]), created, managed_at, closed,
                                 self.rnd.choice((1, 1, 2, 2, 3, 4)), None)
            self.rows.rentals.append(rental)
            for _ in range(rental["rooms"]):
                self.slot(rental, worker)

    def slot(self, rental: dict[str, Any], worker: str) -> None:
        """One room's successive tenants; only those still there or gone during the year are written."""
        end = min(rental["closed_at"] or self.now, self.now)
        t = rental["created_at"] + self.days(3, 60)
        while t < end:
            moved_in, stay = t, self.exp_days(900)
            moved_out = moved_in + stay if moved_in + stay < end or rental["closed_at"] is None else end
            t = moved_out + self.days(5, 60)
            if moved_out < self.start:
                continue
            registered = moved_in + self.exp_days(4)
            if registered > self.now:
                return  # the worker has not registered them yet: the platform does not know them
            row = _tenant_row(self.rnd, self.ids, rental["id"], moved_in, registered, "api")
            self.rows.tenants.append(row)
            self.rows.records.append(_record(self.ids, row["id"], "registration", "api", moved_in, registered, worker))
            reported = moved_out + self.exp_days(5)
            if moved_out < self.now and reported <= self.now:
                row["status"], row["deregistered_at"] = "deregistered", moved_out
                self.rows.records.append(_record(self.ids, row["id"], "deregistration", "api", moved_out, moved_out,
                                                 worker))

    # Controller buildings: card events, the real sync, a worker's decisions.
    def building(self, device_id: int, point: tuple[float, float], grid: tuple[int, str, Any],
                 events: list[tuple[datetime, int, str, str]], plans: dict[str, Plan]) -> None:
        created = self.start - self.days(200, 1500)
        rental = _rental_row(self.rnd, self.ids, grid, point, created, created + self.days(5, 30),
                             None, self.rnd.randint(6, 12), f"{self.rnd.randint(1, 30)}栋")
        self.rows.rentals.append(rental)
        self.rows.controllers.append({"rental_id": rental["id"], "device_id": device_id})
        for _ in range(rental["rooms"]):
            moved_in = self.start - self.days(30, 700)
            card = self.card(plans)
            row = _tenant_row(self.rnd, self.ids, rental["id"], moved_in, moved_in + self.days(1, 6), "card", card)
            row["last_entry_at"] = self.start - self.days(0, 3)
            self.rows.tenants.append(row)
            self.rows.records.append(_record(self.ids, row["id"], "registration", "card_issued", moved_in,
                                             row["registered_at"], "admin"))
            self.card_life(device_id, card, self.start, events, plans, issued=False)

    def card(self, plans: dict[str, Plan]) -> str:
        while (card := f"{self.rnd.getrandbits(32):08X}") in plans:
            pass
        return card

    def card_life(self, device_id: int, card: str, moved_in: datetime, events: list[tuple[datetime, int, str, str]],
                  plans: dict[str, Plan], *, issued: bool = True) -> None:
        """Issue, swipes every few days (a trip away once for some), revocation or silence, the next tenant."""
        stay = self.exp_days(300)
        moved_out = moved_in + stay if moved_in + stay < self.now else None
        away = (moved_in + self.days(10, 300), self.days(32, 45)) if self.rnd.random() < 0.2 else None
        plans[card] = Plan(moved_out, away[0] + away[1] if away else None)
        if issued:
            events.append((moved_in, device_id, card, "issued"))
        t, last = moved_in, moved_out or self.now
        while (t := t + self.days(2, 20)) < last:  # a swipe kept every few days: enough for the no-entry rule
            if away and away[0] <= t < away[0] + away[1]:
                t = away[0] + away[1]
                continue
            events.append((t, device_id, card, "entry"))
        if moved_out is None:
            return
        if self.rnd.random() < 0.55:
            revoked = moved_out + self.days(0, 3)
            if revoked < self.now:
                events.append((revoked, device_id, card, "revoked"))
        next_in = moved_out + self.days(3, 40)
        if next_in < self.now:
            self.card_life(device_id, self.card(plans), next_in, events, plans)


def _advance_sequences(db_session: Session, tables: tuple[str, ...]) -> None:
    """Ids were given: PostgreSQL's sequences must move past them (SQLite takes max + 1)."""
    if db_session.get_bind().dialect.name == "postgresql":
        for table in tables:
            db_session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT coalesce(max(id), 1) FROM {table}))"))


def _insert(db_session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 5000):
        db_session.execute(insert(table), rows[i:i + 5000])


class Decisions:
    """What the grid worker does with each detection, drawn once per record (by its id, so the
    same record gets the same fate whatever else changed)."""

    def __init__(self, year: Year, plans: dict[str, Plan]) -> None:
        self.year, self.plans = year, plans
        self.fate: dict[int, tuple[datetime, str] | None] = {}
        self.counts: dict[str, int] = defaultdict(int)

    def plan(self, record: TenantRecord, tenant: Tenant, seen: datetime) -> tuple[datetime, str] | None:
        """Decided some days after the sync that found it (`seen`); a tenth is left in the backlog."""
        rnd = random.Random(self.year.seed * 1_000_003 + record.id)
        at = seen + timedelta(days=0.3 + rnd.expovariate(1 / 3))
        roll = rnd.random()
        if record.kind == "registration":
            if roll < 0.04:
                return at, "reject"
            return (at, "confirm") if roll < 0.90 else None
        plan = self.plans.get(tenant.card_no or "", Plan(None, None))
        if record.source == "no_entry" and (plan.moved_out is None or plan.moved_out > record.occurred_at):
            # away for over a month, not gone: rejected once they are seen again (or the rule fires anew)
            return max(at, (plan.back or at) + (at - seen)), "reject"
        return (at, "deregister") if roll < 0.92 else None

    def apply(self, day_end: datetime) -> None:
        s = self.year.s
        pending = s.execute(select(TenantRecord, Tenant).join(Tenant, Tenant.id == TenantRecord.tenant_id)
                            .where(TenantRecord.status == "pending").order_by(TenantRecord.id)).all()
        for record, tenant in pending:
            if record.id not in self.fate:
                self.fate[record.id] = self.plan(record, tenant, day_end)
            fate = self.fate[record.id]
            if fate is None or fate[0] > day_end:
                continue
            at, action = fate
            self.fate[record.id] = None
            actor = self.year.workers.get(tenant.rental.grid_id or 0, "admin")
            try:
                if action == "confirm":
                    name, id_number, phone = person(random.Random(record.id), at)
                    rentals.confirm_registration(db_session=s, tenant=tenant, actor=actor, now=at, tenant_in=TenantCreate(
                        name=name, id_number=id_number, phone=phone, card_no=tenant.card_no))
                elif action == "deregister":
                    rentals.deregister(db_session=s, tenant=tenant, actor=actor, now=at)
                else:
                    rentals.reject_record(db_session=s, user=None, record_id=record.id, actor=actor, now=at)
            except Conflict:  # the card was revoked before anyone confirmed who had it: left pending
                continue
            self.counts[action] += 1


def load_rentals(db_session: Session, *, now: datetime, days: int = 365, seed: int = 2026) -> dict[str, int]:
    """Rentals, tenants and the controllers' card events up to `now`; the caller commits."""
    year = Year(db_session, now=now, days=days, seed=seed)
    grids = [(gid, code, to_shapely(geom)) for gid, code, geom in db_session.execute(
        select(Grid.id, Grid.code, Grid.geom).where(Grid.retired_at.is_(None)).order_by(Grid.code))]
    by_id = {g[0]: g for g in grids}
    for grid in grids:
        year.ordinary(grid)
    events: list[tuple[datetime, int, str, str]] = []
    plans: dict[str, Plan] = {}
    controllers = db_session.execute(
        select(Device.id, Device.grid_id, Device.location)
        .where(Device.kind == DeviceKind.access_controller.value, Device.grid_id.is_not(None),
               Device.location.is_not(None), Device.retired_at.is_(None)).order_by(Device.code)).all()
    for device_id, grid_id, location in controllers:
        point = to_shapely(location)
        year.building(device_id, (point.x, point.y), by_id[grid_id], events, plans)
    rows = year.rows
    for table, data in ((Rental.__table__, rows.rentals), (RentalAccessController.__table__, rows.controllers),
                        (Tenant.__table__, rows.tenants), (TenantRecord.__table__, rows.records)):
        _insert(db_session, table, data)
    _advance_sequences(db_session, ("rental", "tenant", "tenant_record"))
    db_session.flush()
    replayed = _replay(year, sorted(e for e in events if e[0] < now), plans)
    return {"rentals": len(rows.rentals), "tenants": db_session.scalar(select(func.count(Tenant.id))) or 0,
            "tenant_records": db_session.scalar(select(func.count(TenantRecord.id))) or 0, **replayed}


def _replay(year: Year, events: list[tuple[datetime, int, str, str]], plans: dict[str, Plan]
            ) -> dict[str, int]:
    """Week by week (a daily sync cost a minute): the week's card events in, the card sync at its end,
    then the worker's decisions due by then, each made at its own time after the sync that found it."""
    s, decisions, seq = year.s, Decisions(year, plans), defaultdict(int)
    no_entry_days = get_settings().tenant_no_entry_days
    i = 0
    for day_end in [*year.midnights[7::7], year.now]:
        batch = []
        while i < len(events) and events[i][0] < day_end:
            ts, device_id, card, action = events[i]
            seq[device_id] += 1
            batch.append({"device_id": device_id, "ts": ts, "seq": seq[device_id], "card_no": card, "action": action})
            i += 1
        _insert(s, CardEvent.__table__, batch)
        sync_cards(db_session=s, no_entry_days=no_entry_days, now=day_end)
        decisions.apply(day_end)
    s.flush()
    return {"card_events": i, **{f"detections_{k}": v for k, v in sorted(decisions.counts.items())}}


KEY_PERSON_MIX = (("mental_health", 30), ("community_correction", 20), ("released_prisoner", 20),
                  ("drug_user", 15), ("petitioner", 10), ("other", 5))


def load_key_persons(db_session: Session, *, now: datetime, days: int = 365, seed: int = 2026) -> dict[str, int]:
    """The key-person register (重点人员) of the demo: up to three people in most grids, registered before
    the year, followed up by the grid's worker a little inside their type's interval, now and then late
    (the info rate lands in the high nineties, and its drill-down has names). Encrypted like tenants."""
    from server.keypersons import service as keypersons
    from server.keypersons.models import KeyPerson, KeyPersonUpdate
    from server.personal_data import encrypt, keyed_hash

    rnd = random.Random(seed + 29)
    types = keypersons.key_person_types()
    kinds, weights = zip(*((k, w) for k, w in KEY_PERSON_MIX if k in types), strict=True)
    start = now - timedelta(days=days)
    workers = {gid: u for gid, u in db_session.execute(
        select(GridAssignment.grid_id, GridAssignment.user_id).where(GridAssignment.valid_to.is_(None)))}
    grids = list(db_session.execute(select(Grid.id, Grid.code).where(Grid.retired_at.is_(None)).order_by(Grid.code)))
    registrar = db_session.scalar(select(User.id).where(User.role == "district_admin").order_by(User.id))
    persons, updates = [], []
    next_id = (db_session.scalar(select(func.max(KeyPerson.id))) or 0) + 1
    for gid, _code in grids:
        if gid not in workers:
            continue
        for _ in range(rnd.choice((0, 1, 1, 2, 2, 3))):
            kind = rnd.choices(kinds, weights)[0]
            registered = start - timedelta(days=rnd.uniform(10, 400))
            name, number, phone = person(rnd, registered)
            persons.append({"id": next_id, "type_code": kind, "name_enc": encrypt(name), "id_type": "resident_id",
                            "id_number_enc": encrypt(number), "id_hash": keyed_hash(number),
                            "phone_enc": encrypt(phone), "address_enc": encrypt(f"{_code[-3:]}号楼{rnd.randint(1, 30)}01"),
                            "grid_id": gid, "rental_id": None, "registered_at": registered,
                            "registered_by": registrar, "removed_at": None, "removed_reason": None})
            interval = types[kind].interval_days
            at = registered
            while True:
                at += timedelta(days=interval * (rnd.uniform(1.0, 1.4) if rnd.random() < 0.04 else rnd.uniform(0.5, 0.95)))
                if at >= now:
                    break
                updates.append({"uuid": str(uuid.UUID(int=rnd.getrandbits(128))), "key_person_id": next_id,
                                "visit_id": None, "actor_id": workers[gid], "at": at,
                                "note_enc": encrypt(rnd.choice(("情况稳定", "按时服药，家属监护到位", "已按要求报到",
                                                                "近期无异常", "就业情况已更新"))),
                                "created_at": at})
            next_id += 1
    _insert(db_session, KeyPerson, persons)
    _insert(db_session, KeyPersonUpdate, updates)
    _advance_sequences(db_session, ("key_person", "key_person_update"))
    return {"key_persons": len(persons), "updates": len(updates)}
