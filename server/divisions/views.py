"""Read the administrative tree (streets and communities of the user's district)."""

from __future__ import annotations

from fastapi import APIRouter

from server.deps import CurrentUser, DbSession
from server.divisions import service
from server.divisions.schemas import CommunityRead, StreetRead

router = APIRouter(tags=["divisions"])


@router.get("/streets", response_model=list[StreetRead])
def list_streets(db_session: DbSession, user: CurrentUser) -> list[StreetRead]:
    streets = service.list_streets(db_session=db_session, district_code=user.district_code)
    return [StreetRead(code=s.code, name=s.name, district_code=s.district.code) for s in streets]


@router.get("/communities", response_model=list[CommunityRead])
def list_communities(db_session: DbSession, user: CurrentUser, street_code: str | None = None) -> list[CommunityRead]:
    if user.street_code:  # street-scoped roles see their own street only
        street_code = user.street_code
    rows = service.list_communities(db_session=db_session, street_code=street_code)
    if user.district_code:
        rows = [c for c in rows if c.code.startswith(user.district_code)]
    return [CommunityRead(code=c.code, name=c.name, street_code=c.street.code) for c in rows]
