"""Read the administrative tree: the streets and communities that hold part of the user's territory."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from server.deps import CurrentUser, DbSession, Now
from server.divisions import service
from server.divisions.models import Community, Street
from server.divisions.schemas import CommunityRead, StreetRead
from server.territory import territory

router = APIRouter(tags=["divisions"])


@router.get("/streets", response_model=list[StreetRead])
def list_streets(db_session: DbSession, user: CurrentUser, now: Now) -> list[StreetRead]:
    """The district's streets for district roles, one's own street, a grid worker's grids' streets."""
    t = territory(user, now)
    of_assigned = select(Community.street_id).where(Community.id.in_(t.assigned_community_ids()))
    streets = service.list_streets(db_session=db_session, where=t.codes(Street.code, worker=Street.id.in_(of_assigned)))
    return [StreetRead(code=s.code, name=s.name, district_code=s.district.code) for s in streets]


@router.get("/communities", response_model=list[CommunityRead])
def list_communities(db_session: DbSession, user: CurrentUser, now: Now,
                     street_code: str | None = None) -> list[CommunityRead]:
    t = territory(user, now)
    of_assigned = t.assigned_community_ids()
    rows = service.list_communities(db_session=db_session, street_code=street_code,
                                    where=t.codes(Community.code, worker=Community.id.in_(of_assigned)))
    return [CommunityRead(code=c.code, name=c.name, street_code=c.street.code) for c in rows]
