"""Key-person API (重点人员): masked lists and details, the audited full read, registration by the
district and street admins, information updates by the workers of the person's grid."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from server.auth.enums import Role
from server.auth.models import User
from server.deps import CurrentUser, DbSession, Now, WriteDbSession, require_roles
from server.grids.models import Grid
from server.inputs import IdPath, Line, Page, PageSize
from server.keypersons import service
from server.keypersons.models import KeyPerson
from server.keypersons.schemas import (
    FollowUp,
    KeyPersonCreate,
    KeyPersonPage,
    KeyPersonRead,
    KeyPersonRemove,
    KeyPersonTypeRead,
    UpdateCreate,
    UpdateRead,
)
from server.keypersons.types import key_person_types

router = APIRouter(prefix="/key-persons", tags=["key persons"])
Registrar = Annotated[User, Depends(require_roles(Role.district_admin, Role.street_admin))]
Updater = Annotated[User, Depends(require_roles(Role.grid_worker, Role.street_admin, Role.district_admin))]


@router.get("/types", response_model=list[KeyPersonTypeRead])
def list_types(_: CurrentUser) -> list[KeyPersonTypeRead]:
    return [KeyPersonTypeRead(code=t.code, name_zh=t.name_zh, interval_days=t.interval_days, indicator=t.indicator)
            for t in key_person_types().values()]


@router.get("", response_model=KeyPersonPage)
def list_key_persons(db_session: DbSession, user: CurrentUser, now: Now,
                     type_code: Annotated[Line | None, Query(max_length=32)] = None,
                     grid_code: Annotated[Line | None, Query(max_length=19)] = None,
                     follow_up: Annotated[FollowUp | None, Query(description="only those in this state now")] = None,
                     removed: bool = False, page: Page = 1, page_size: PageSize = 50) -> KeyPersonPage:
    """Masked; a grid worker's list is the people of their grids, with who is due for a visit."""
    q = select(KeyPerson).where(service.visible(user, now),
                                KeyPerson.removed_at.is_not(None) if removed else KeyPerson.removed_at.is_(None))
    if type_code:
        q = q.where(KeyPerson.type_code == type_code)
    if grid_code:
        q = q.where(KeyPerson.grid_id.in_(select(Grid.id).where(Grid.code == grid_code)))
    rows = service.read(db_session, list(db_session.scalars(q.order_by(KeyPerson.id))), now=now)
    if follow_up:  # a state of now, computed from the updates: filtered after reading (hundreds per grid)
        rows = [r for r in rows if r.follow_up == follow_up]
    start = (page - 1) * page_size
    return KeyPersonPage(items=rows[start:start + page_size], total=len(rows), page=page, page_size=page_size)


@router.post("", response_model=KeyPersonRead, status_code=201)
def register(db_session: DbSession, user: Registrar, body: KeyPersonCreate, now: Now) -> KeyPersonRead:
    person = service.register(db_session=db_session, user=user, data=body, now=now)
    db_session.commit()
    return service.read(db_session, [person], now=now)[0]


@router.get("/{person_id}", response_model=KeyPersonRead)
def get_key_person(db_session: DbSession, user: CurrentUser, person_id: IdPath, now: Now) -> KeyPersonRead:
    person = service.get_visible(db_session=db_session, user=user, person_id=person_id, now=now)
    return service.read(db_session, [person], now=now, with_updates=True)[0]


@router.get("/{person_id}/pii", response_model=KeyPersonRead)
def read_key_person_pii(db_session: WriteDbSession, user: CurrentUser, person_id: IdPath, now: Now) -> KeyPersonRead:
    """The whole record: district and street admins of the person's area only; every read is logged."""
    person = service.get_visible(db_session=db_session, user=user, person_id=person_id, now=now)
    read = service.read_full(db_session=db_session, user=user, person=person, now=now)
    db_session.commit()
    return read


@router.post("/{person_id}/updates", response_model=UpdateRead, status_code=201,
             responses={200: {"model": UpdateRead, "description": "a retry of an update already received"}})
def record_update(db_session: DbSession, user: Updater, person_id: IdPath, body: UpdateCreate, response: Response,
                  now: Now) -> UpdateRead:
    """An information update, usually at a visit's check-in (`visit_uuid`: the worker's own visit)."""
    person = service.get_visible(db_session=db_session, user=user, person_id=person_id, now=now)
    update, created = service.add_update(db_session=db_session, user=user, person=person, data=body, now=now)
    db_session.commit()
    if not created:
        response.status_code = 200
    return UpdateRead(uuid=update.uuid, at=update.at, actor=user.username,
                      visit_uuid=str(body.visit_uuid) if body.visit_uuid else None,
                      note="***" if update.note_enc else None)


@router.post("/{person_id}/remove", response_model=KeyPersonRead)
def remove(db_session: DbSession, user: Registrar, person_id: IdPath, body: KeyPersonRemove, now: Now) -> KeyPersonRead:
    person = service.get_visible(db_session=db_session, user=user, person_id=person_id, now=now)
    service.remove(db_session=db_session, person=person, reason=body.reason, now=now)
    db_session.commit()
    return service.read(db_session, [person], now=now)[0]
