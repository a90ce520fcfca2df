"""Street and community outlines for the map, each level in one statement.

A community's outline is its imported boundary (`gridops divisions boundaries`) or, until one is
imported, the union of its active grids; a street's is the union of its communities' outlines. The
unions run in the database (ST_Union is an aggregate in both PostGIS and SpatiaLite), so the map gets
one shape per area without the server reading every grid. It lives with the grids, above the
administrative tree, because the fallback outline is made of grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from gis.codes import area_prefix
from server.auth.models import User
from server.database.prefix import prefix_range
from server.divisions.models import Community, Street
from server.divisions.schemas import OutlineLevel, OutlineSource
from server.geometry import to_shapely
from server.grids.models import Grid
from server.territory import territory


@dataclass(frozen=True)
class Outline:
    code: str
    name: str
    street_code: str
    source: OutlineSource
    geometry: MultiPolygon


def _polygonal(geom: BaseGeometry) -> MultiPolygon:
    """A union of polygons is a polygon or a multipolygon; a collection keeps only its polygons."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return MultiPolygon([p for part in getattr(geom, "geoms", []) for p in _polygonal(part).geoms])


def _source(with_boundary: int, total: int) -> OutlineSource:
    if with_boundary == total:
        return OutlineSource.boundary
    return OutlineSource.grids if with_boundary == 0 else OutlineSource.mixed


def _communities(communities_where: ColumnElement[bool]) -> Any:
    """(id, street_id, code, name, has_boundary, geom) of the active communities `communities_where`
    selects that have something to draw; the grid union is computed only for those communities."""
    chosen = select(Community.id).where(communities_where)
    grids = (select(Grid.community_id.label("community_id"), func.ST_Union(Grid.geom).label("geom"))
             .where(Grid.retired_at.is_(None), Grid.community_id.in_(chosen))
             .group_by(Grid.community_id).subquery())
    geom = func.coalesce(Community.boundary, grids.c.geom)
    return (select(Community.id, Community.street_id, Community.code, Community.name,
                   case((Community.boundary.is_not(None), 1), else_=0).label("has_boundary"), geom.label("geom"))
            .outerjoin(grids, grids.c.community_id == Community.id)
            .where(Community.retired_at.is_(None), communities_where, geom.is_not(None)))


def outlines(*, db_session: Session, user: User, level: OutlineLevel, now: datetime,
             street_code: str | None = None) -> list[Outline]:
    """The streets or communities of the user's territory (a grid worker: those of the grids assigned
    at `now`), by code. Areas with neither a boundary nor an active grid have no outline and are left out."""
    t = territory(user, now)
    worker_communities = Community.id.in_(t.assigned_community_ids())
    if level is OutlineLevel.community:
        where = t.codes(Community.code, worker=worker_communities)
        if street_code:
            where = where & prefix_range(Community.code, area_prefix(street_code))
        c = _communities(where).subquery()
        q = select(c.c.code, c.c.name, Street.code, c.c.has_boundary, literal(1), c.c.geom).join(
            Street, Street.id == c.c.street_id)
    else:
        streets = t.codes(Street.code, worker=Street.id.in_(select(Community.street_id).where(worker_communities)))
        if street_code:
            streets = streets & (Street.code == street_code)
        # a street's whole outline, all its communities', once the street itself is in the territory
        c = _communities(Community.street_id.in_(select(Street.id).where(streets))).subquery()
        q = (select(Street.code, Street.name, Street.code, func.sum(c.c.has_boundary),
                    func.count(c.c.id), func.ST_Union(c.c.geom))
             .join(c, c.c.street_id == Street.id).group_by(Street.id, Street.code, Street.name))
    rows = db_session.execute(q.order_by(q.selected_columns[0])).all()
    return [Outline(code=code, name=name, street_code=street, source=_source(int(bounded), int(total)),
                    geometry=_polygonal(to_shapely(geom)))
            for code, name, street, bounded, total, geom in rows if geom is not None]
