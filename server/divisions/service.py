"""The administrative tree: creation with code-chain validation, and lookups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from shapely.geometry.base import BaseGeometry

from gis import codes
from server.database.prefix import prefix_range
from server.divisions.models import Community, District, Street
from server.errors import Conflict, InvalidInput, NotFound
from server.geometry import to_db_multipolygon


def _valid(problem: str | None, what: str, code: str) -> None:
    if problem:
        raise InvalidInput(f"invalid {what} code {code}: {problem}", f"{what} 编码 {code} 无效：{problem}",
                           code=f"invalid_{what}_code")


def _unique(db_session: Session, model: type, code: str) -> None:
    """A code is issued once: a retired community's code is as taken as a living one's."""
    row = db_session.scalar(select(model).where(model.code == code))
    if row is not None and getattr(row, "retired_at", None) is not None:
        raise Conflict(f"{model.__tablename__} {code} was retired: codes are never reused",
                       f"编码 {code} 已撤销，不可复用", code="code_retired")
    if row is not None:
        raise Conflict(f"{model.__tablename__} {code} exists", f"编码 {code} 已存在", code="division_exists")


def create_district(*, db_session: Session, code: str, name: str) -> District:
    _valid(codes.district_code_problem(code), "district", code)
    _unique(db_session, District, code)
    district = District(code=code, name=name)
    db_session.add(district)
    db_session.flush()
    return district


def create_street(*, db_session: Session, code: str, name: str, district_code: str) -> Street:
    """A street's 12-digit code must start with its district's 6 digits (GB/T 2260 chain)."""
    _valid(codes.street_code_problem(code, district_code), "street", code)
    district = get_district(db_session=db_session, code=district_code)
    _unique(db_session, Street, code)
    street = Street(code=code, name=name, district_id=district.id)
    db_session.add(street)
    db_session.flush()
    return street


def create_community(
    *, db_session: Session, code: str, name: str, street_code: str, boundary: BaseGeometry | None = None
) -> Community:
    _valid(codes.community_code_problem(code, street_code), "community", code)
    street = get_street(db_session=db_session, code=street_code)
    _unique(db_session, Community, code)
    community = Community(
        code=code, name=name, street_id=street.id,
        boundary=to_db_multipolygon(boundary) if boundary is not None else None,
    )
    db_session.add(community)
    db_session.flush()
    return community


def rename_community(*, db_session: Session, community: Community, name: str) -> Community:
    """A new name under the same code: reports keep counting the community as one."""
    if community.retired_at is not None:
        raise Conflict(f"community {community.code} is retired", f"社区 {community.code} 已撤销",
                       code="community_retired")
    community.name = name
    db_session.flush()
    return community


def retire_community(*, db_session: Session, community: Community, active_grids: list[str], at: datetime) -> Community:
    """Retire a community whose grids are all retired; its code stays taken forever."""
    if community.retired_at is not None:
        raise Conflict(f"community {community.code} is already retired", f"社区 {community.code} 已撤销",
                       code="community_retired")
    if active_grids:
        raise Conflict(f"community {community.code} still has {len(active_grids)} active grids: retire them first",
                       f"社区 {community.code} 仍有 {len(active_grids)} 个在用网格，请先撤销网格",
                       code="community_has_grids", detail={"grids": active_grids[:50]})
    community.retired_at = at
    db_session.flush()
    return community


def set_boundaries(*, db_session: Session, boundaries: dict[str, BaseGeometry]) -> None:
    """Replace the boundaries of these communities (checked by the caller, all of them at once)."""
    for community in communities_by_code(db_session=db_session, codes_=set(boundaries)).values():
        community.boundary = to_db_multipolygon(boundaries[community.code])
    db_session.flush()


def _get(db_session: Session, model: type, code: str, label_zh: str):  # type: ignore[no-untyped-def]
    obj = db_session.scalar(select(model).where(model.code == code))
    if obj is None:
        raise NotFound(f"{model.__tablename__} {code} not found", f"{label_zh} {code} 不存在",
                       code=f"{model.__tablename__}_not_found")
    return obj


def get_district(*, db_session: Session, code: str) -> District:
    return _get(db_session, District, code, "区")


def get_street(*, db_session: Session, code: str) -> Street:
    return _get(db_session, Street, code, "街道")


def get_community(*, db_session: Session, code: str) -> Community:
    return _get(db_session, Community, code, "社区")


def communities_by_code(*, db_session: Session, codes_: set[str]) -> dict[str, Community]:
    rows = db_session.scalars(select(Community).where(Community.code.in_(codes_))) if codes_ else []
    return {c.code: c for c in rows}


def list_streets(*, db_session: Session, district_code: str | None = None,
                 where: ColumnElement[bool] | None = None) -> list[Street]:
    """`where`: the caller's territory (the views pass it; trusted callers pass none)."""
    q = select(Street).order_by(Street.code)
    if district_code:
        q = q.where(prefix_range(Street.code, codes.area_prefix(district_code)))
    if where is not None:
        q = q.where(where)
    return list(db_session.scalars(q))


def list_communities(*, db_session: Session, street_code: str | None,
                     where: ColumnElement[bool] | None = None, include_retired: bool = False) -> list[Community]:
    q = select(Community).order_by(Community.code)
    if not include_retired:
        q = q.where(Community.retired_at.is_(None))
    if street_code:
        q = q.where(prefix_range(Community.code, codes.area_prefix(street_code)))
    if where is not None:
        q = q.where(where)
    return list(db_session.scalars(q))
