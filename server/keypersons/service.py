"""The key-person register: registration, information updates, follow-up status and its counts.

Who sees what: the territory rule (server.territory) by the person's grid, deny by default; lists
and details are masked for everyone; the full record only through `read_full`, for the roles that
may read personal data in full (district and street admins), each read audited in pii_access_log.
A grid worker records updates for the people in the grids assigned to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from gis.codes import street_of
from server.auth.models import User
from server.database.prefix import prefix_range
from server.errors import Conflict, InvalidInput, NotFound
from server.grids.models import Grid
from server.keypersons.models import KeyPerson, KeyPersonUpdate
from server.keypersons.schemas import FollowUp, KeyPersonCreate, KeyPersonRead, UpdateCreate, UpdateRead
from server.keypersons.types import KeyPersonType, key_person_types
from server.personal_data import decrypt, encrypt, keyed_hash
from server.rentals import service as rentals
from server.rentals.models import Rental
from server.territory import territory
from server.visits.models import Visit

DUE_SOON = timedelta(days=7)  # "due soon" in the worker's list: a week before the interval runs out
CLOCK_SKEW = timedelta(minutes=10)  # a phone's clock may run a little ahead, never more


def _type(code: str) -> KeyPersonType:
    types = key_person_types()
    if code not in types:
        raise InvalidInput(f"unknown key-person type {code!r}", f"重点人员类别 {code} 不存在", code="unknown_key_person_type",
                           detail={"types": sorted(types)})
    return types[code]


def visible(user: User, now: datetime) -> ColumnElement[bool]:
    return territory(user, now).grids(KeyPerson.grid_id)


def register(*, db_session: Session, user: User, data: KeyPersonCreate, now: datetime) -> KeyPerson:
    kind = _type(data.type_code)
    grid_id, rental_id = _placement(db_session, user, data, now)
    id_hash = None
    if data.id_number:
        number = rentals.check_id(data.id_type, data.id_number)
        id_hash = keyed_hash(number)
        taken = db_session.scalar(select(KeyPerson.id).where(
            KeyPerson.id_hash == id_hash, KeyPerson.type_code == kind.code, KeyPerson.removed_at.is_(None)))
        if taken is not None:
            raise Conflict("this person is already on the register for this type", "该人员已在此类别的重点人员名册中",
                           code="key_person_exists")
    person = KeyPerson(
        type_code=kind.code, name_enc=encrypt(data.name), id_type=data.id_type,
        id_number_enc=encrypt(data.id_number.strip().upper()) if data.id_number else None, id_hash=id_hash,
        phone_enc=encrypt(rentals.check_phone(data.phone)) if data.phone else None,
        address_enc=encrypt(data.address), grid_id=grid_id, rental_id=rental_id,
        registered_at=min(data.registered_at or now, now), registered_by=user.id)
    db_session.add(person)
    db_session.flush()
    return person


def _placement(db_session: Session, user: User, data: KeyPersonCreate, now: datetime) -> tuple[int, int | None]:
    """(grid id, rental id) inside the user's territory; a place outside it answers as a missing one."""
    t = territory(user, now)
    if data.rental_id is not None:
        rental = db_session.scalar(select(Rental).where(Rental.id == data.rental_id, t.grids(Rental.grid_id)))
        if rental is None:
            raise NotFound(f"rental {data.rental_id} not found", "出租屋不存在", code="rental_not_found")
        if rental.grid_id is None:
            raise InvalidInput("the rental lies in no grid: place the person by grid_code", "该出租屋不在任何网格内，请按网格登记",
                               code="rental_without_grid")
        return rental.grid_id, rental.id
    grid_id = db_session.scalar(select(Grid.id).where(Grid.code == data.grid_code, Grid.retired_at.is_(None),
                                                      t.grids(Grid.id)))
    if grid_id is None:
        raise NotFound(f"grid {data.grid_code} not found", f"网格 {data.grid_code} 不存在", code="grid_not_found")
    return grid_id, None


def get_visible(*, db_session: Session, user: User, person_id: int, now: datetime) -> KeyPerson:
    person = db_session.scalar(select(KeyPerson).where(KeyPerson.id == person_id, visible(user, now)))
    if person is None:
        raise NotFound(f"key person {person_id} not found", "重点人员不存在", code="key_person_not_found")
    return person


def remove(*, db_session: Session, person: KeyPerson, reason: str, now: datetime) -> KeyPerson:
    if person.removed_at is not None:
        raise Conflict("already removed from the register", "该人员已移出名册", code="key_person_removed")
    person.removed_at, person.removed_reason = now, reason
    db_session.flush()
    return person


def add_update(*, db_session: Session, user: User, person: KeyPerson, data: UpdateCreate,
               now: datetime) -> tuple[KeyPersonUpdate, bool]:
    """(update, created). A retry with the same uuid returns the first; a uuid used for another
    person is a conflict, never a second row."""
    uuid = str(data.uuid)
    first = db_session.scalar(select(KeyPersonUpdate).where(KeyPersonUpdate.uuid == uuid))
    if first is not None:
        if first.key_person_id != person.id or first.actor_id != user.id:
            raise Conflict("this uuid was already used for another update", "该编号已用于其他更新记录", code="uuid_taken")
        return first, False
    if person.removed_at is not None:
        raise Conflict("the person was removed from the register", "该人员已移出名册", code="key_person_removed")
    if data.at > now + CLOCK_SKEW:
        raise InvalidInput("the update is dated in the future", "更新时间晚于当前时间", code="update_in_future")
    visit_id = None
    if data.visit_uuid is not None:  # only one's own visit: the check-in is the worker's word
        visit_id = db_session.scalar(select(Visit.id).where(Visit.uuid == str(data.visit_uuid),
                                                            Visit.worker_id == user.id))
        if visit_id is None:
            raise NotFound("visit not found", "巡查走访记录不存在", code="visit_not_found")
    update = KeyPersonUpdate(uuid=uuid, key_person_id=person.id, visit_id=visit_id, actor_id=user.id, at=data.at,
                             note_enc=encrypt(data.note), created_at=now)
    db_session.add(update)
    db_session.flush()
    return update, True


def last_updates(db_session: Session, person_ids: Iterable[int], *, at: datetime | None = None) -> dict[int, datetime]:
    ids = list(person_ids)
    if not ids:
        return {}
    q = (select(KeyPersonUpdate.key_person_id, func.max(KeyPersonUpdate.at))
         .where(KeyPersonUpdate.key_person_id.in_(ids)).group_by(KeyPersonUpdate.key_person_id))
    if at is not None:
        q = q.where(KeyPersonUpdate.at <= at)
    return dict(db_session.execute(q).tuples().all())


def _due(registered_at: datetime, last_update: datetime | None, interval_days: int) -> datetime:
    """The interval runs from the latest update, or from the registration."""
    return (max(registered_at, last_update) if last_update else registered_at) + timedelta(days=interval_days)


def follow_up(person: KeyPerson, last_update: datetime | None, now: datetime) -> tuple[datetime, FollowUp]:
    """(next due, status)."""
    due = _due(person.registered_at, last_update, _type(person.type_code).interval_days)
    status: FollowUp = "overdue" if now > due else "due_soon" if now > due - DUE_SOON else "up_to_date"
    return due, status


def read(db_session: Session, persons: Sequence[KeyPerson], *, now: datetime, full: bool = False,
         with_updates: bool = False) -> list[KeyPersonRead]:
    """Masked unless `full` (which the caller has audited: read_full)."""
    grids = dict(db_session.execute(select(Grid.id, Grid.code).where(
        Grid.id.in_({p.grid_id for p in persons}))).tuples().all()) if persons else {}
    last = last_updates(db_session, (p.id for p in persons))
    out = []
    for p in persons:
        kind = _type(p.type_code)
        due, status = follow_up(p, last.get(p.id), now)
        name, number, phone = decrypt(p.name_enc) or "", decrypt(p.id_number_enc), decrypt(p.phone_enc)
        address = decrypt(p.address_enc)
        out.append(KeyPersonRead(
            id=p.id, type_code=p.type_code, type_name=kind.name_zh,
            name=name if full else rentals.mask_name(name) or "", id_type=p.id_type,
            id_number=number if full else rentals.mask_id(number), phone=phone if full else rentals.mask_phone(phone),
            address=address if full else _mask_address(address), grid_code=grids.get(p.grid_id, ""),
            street_code=street_of(grids[p.grid_id]) if p.grid_id in grids else "", rental_id=p.rental_id,
            registered_at=p.registered_at, removed_at=p.removed_at, removed_reason=p.removed_reason,
            interval_days=kind.interval_days, last_update_at=last.get(p.id), next_due_at=due, follow_up=status,
            masked=not full, updates=_updates(db_session, p, full=full) if with_updates else None))
    return out


def _mask_address(address: str | None) -> str | None:
    """The first part of the address (road, estate) only: enough to find the door with the worker's list."""
    if not address:
        return address
    keep = max(len(address) // 2, 1)
    return address[:keep] + "*" * (len(address) - keep)


def _updates(db_session: Session, person: KeyPerson, *, full: bool) -> list[UpdateRead]:
    rows = db_session.execute(
        select(KeyPersonUpdate, User.username, Visit.uuid).join(User, User.id == KeyPersonUpdate.actor_id)
        .outerjoin(Visit, Visit.id == KeyPersonUpdate.visit_id)
        .where(KeyPersonUpdate.key_person_id == person.id).order_by(KeyPersonUpdate.at, KeyPersonUpdate.id)).all()
    return [UpdateRead(uuid=u.uuid, at=u.at, actor=name, visit_uuid=visit,
                       note=(decrypt(u.note_enc) if full else ("***" if u.note_enc else None)))
            for u, name, visit in rows]


def read_full(*, db_session: Session, user: User, person: KeyPerson, now: datetime) -> KeyPersonRead:
    """The whole record, for the roles that may read personal data in full; the read is audited."""
    rentals.audit_read(db_session, user=user, record_type="key_person", record_id=person.id,
                       fields="name,id_number,phone,address,notes", now=now)
    return read(db_session, [person], now=now, full=True, with_updates=True)[0]


@dataclass(frozen=True)
class FollowUpCount:
    grid_code: str
    type_code: str
    current: int  # updated within the type's interval before the instant
    active: int  # on the register at the instant


def _active_at(at: datetime):  # type: ignore[no-untyped-def]
    return (KeyPerson.registered_at <= at, or_(KeyPerson.removed_at.is_(None), KeyPerson.removed_at > at))


def _current_at(registered_at: datetime, last_update: datetime | None, type_code: str, at: datetime) -> bool:
    kind = key_person_types().get(type_code)  # a type no longer configured: never current
    return at <= _due(registered_at, last_update, kind.interval_days if kind else 0)


def not_current(db_session: Session, *, at: datetime, grid_prefix: str, type_codes: set[str] | None,
                limit: int) -> list[KeyPersonRead]:
    """The people behind a missed rate: on the register at `at` in the area, not updated in time;
    masked (a drill-down goes into lists and sheets)."""
    q = (select(KeyPerson).join(Grid, Grid.id == KeyPerson.grid_id)
         .where(*_active_at(at), prefix_range(Grid.code, grid_prefix)).order_by(KeyPerson.id))
    if type_codes is not None:
        q = q.where(KeyPerson.type_code.in_(type_codes))
    persons = list(db_session.scalars(q))
    last = last_updates(db_session, (p.id for p in persons), at=at)
    behind = [p for p in persons if not _current_at(p.registered_at, last.get(p.id), p.type_code, at)][:limit]
    return read(db_session, behind, now=at)


def follow_up_counts(db_session: Session, *, at: datetime) -> list[FollowUpCount]:
    """Per grid and type, at an instant: who is on the register and who is up to date (the
    重点人员信息掌握率 and the managed rates per type). One statement for the persons, one for their
    latest update before the instant; key persons are counted in hundreds or thousands per district."""
    persons = db_session.execute(
        select(KeyPerson.id, KeyPerson.type_code, KeyPerson.registered_at, Grid.code)
        .join(Grid, Grid.id == KeyPerson.grid_id)
        .where(*_active_at(at))).all()
    last = dict(db_session.execute(
        select(KeyPersonUpdate.key_person_id, func.max(KeyPersonUpdate.at))
        .where(KeyPersonUpdate.at <= at, KeyPersonUpdate.key_person_id.in_(
            select(KeyPerson.id).where(KeyPerson.registered_at <= at)))
        .group_by(KeyPersonUpdate.key_person_id)).tuples().all())
    counts: dict[tuple[str, str], list[int]] = {}
    for pid, type_code, registered_at, grid_code in persons:
        cell = counts.setdefault((grid_code, type_code), [0, 0])
        cell[0] += int(_current_at(registered_at, last.get(pid), type_code, at))
        cell[1] += 1
    return [FollowUpCount(g, t, c, a) for (g, t), (c, a) in sorted(counts.items())]
