"""Grids: scoped reads, all-or-nothing import, export, retirement and worker assignment."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

import numpy as np
import shapely
from geoalchemy2 import WKBElement
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session, joinedload

from gis.assign import OUTSIDE, GridIndex
from gis.codes import area_prefix
from gis.crs import CGCS2000
from gis.shapefile_io import GridFeature
from server.auth.models import User
from server.database.prefix import prefix_range
from server.errors import Conflict, InvalidInput, NotFound
from server.geometry import to_shapely
from server.grids.models import Grid, GridAssignment
from server.grids.schemas import GridSort
from server.grids.scope import active_assignment, visible_grids

SORT_COLUMNS = {"code": Grid.code, "name": Grid.name, "area": Grid.area_m2}
MARGIN_DEG = 1e-6  # ~0.1 m around the points' envelope: a point on a bounding box's edge stays a candidate


@dataclass(frozen=True)
class GridFilter:
    street_code: str | None = None
    community_code: str | None = None
    grid_type: str | None = None
    name_contains: str | None = None
    include_retired: bool = False


def _query(user: User | None, flt: GridFilter, at: datetime):  # type: ignore[no-untyped-def]
    q = select(Grid).where(visible_grids(user, at))
    if not flt.include_retired:
        q = q.where(Grid.retired_at.is_(None))
    if flt.street_code:
        q = q.where(prefix_range(Grid.code, area_prefix(flt.street_code)))
    if flt.community_code:
        q = q.where(prefix_range(Grid.code, area_prefix(flt.community_code)))
    if flt.grid_type:
        q = q.where(Grid.grid_type == flt.grid_type)
    if flt.name_contains:
        q = q.where(Grid.name.contains(flt.name_contains, autoescape=True))
    return q


def list_grids(
    *, db_session: Session, user: User, flt: GridFilter, now: datetime, page: int = 1, page_size: int = 50,
    sort: GridSort = GridSort.code,
) -> tuple[list[Grid], int]:
    """One page of the grids the user may see, and the total count for the pager."""
    q = _query(user, flt, now)
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    col = SORT_COLUMNS[sort.value.lstrip("-")]
    order = col.desc() if sort.value.startswith("-") else col.asc()
    rows = db_session.scalars(
        q.options(joinedload(Grid.community)).order_by(order, Grid.code).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), total


def get_visible(*, db_session: Session, user: User, code: str, now: datetime) -> Grid:
    """404 (not 403) for grids out of scope, so codes outside one's area do not leak."""
    grid = db_session.scalar(select(Grid).where(Grid.code == code, visible_grids(user, now)))
    if grid is None:
        raise NotFound(f"grid {code} not found", f"网格 {code} 不存在", code="grid_not_found")
    return grid


def get_by_code(*, db_session: Session, code: str) -> Grid | None:
    return db_session.scalar(select(Grid).where(Grid.code == code))


def to_feature(grid: Grid) -> GridFeature:
    return GridFeature(
        code=grid.code, name=grid.name, community_code=grid.community.code, grid_type=grid.grid_type,
        geometry=to_shapely(grid.geom), attributes={},
    )


def export_features(*, db_session: Session, user: User | None, flt: GridFilter, now: datetime) -> list[GridFeature]:
    q = _query(user, flt, now).options(joinedload(Grid.community)).order_by(Grid.code)
    return [to_feature(g) for g in db_session.scalars(q)]


def replacement_not_found(code: str) -> InvalidInput:
    return InvalidInput(f"replacement grid {code} does not exist", f"替代网格 {code} 不存在",
                        code="replacement_not_found")


def retire(*, db_session: Session, code: str, replaced_by_code: str | None, at: datetime) -> Grid:
    """Retire a grid; its code stays taken forever, and open assignments end with it."""
    grid = get_by_code(db_session=db_session, code=code)
    if grid is None:
        raise NotFound(f"grid {code} not found", f"网格 {code} 不存在", code="grid_not_found")
    if grid.retired_at is not None:
        raise Conflict(f"grid {code} is already retired", f"网格 {code} 已撤销", code="grid_retired")
    if replaced_by_code and get_by_code(db_session=db_session, code=replaced_by_code) is None:
        raise replacement_not_found(replaced_by_code)
    grid.retired_at = at
    grid.replaced_by_code = replaced_by_code
    for assignment in db_session.scalars(
        select(GridAssignment).where(GridAssignment.grid_id == grid.id, active_assignment(at))
    ):
        assignment.valid_to = at
    db_session.flush()
    return grid


def assign_worker(*, db_session: Session, grid: Grid, worker: User, at: datetime) -> GridAssignment:
    """Open an assignment; assigning twice is a no-op so retries from the dashboard are safe."""
    if worker.role != "grid_worker":
        raise InvalidInput(f"{worker.username} is not a grid worker", f"{worker.username} 不是网格员",
                           code="not_a_worker")
    if grid.retired_at is not None:
        raise Conflict(f"grid {grid.code} is retired", f"网格 {grid.code} 已撤销", code="grid_retired")
    existing = db_session.scalar(select(GridAssignment).where(
        GridAssignment.grid_id == grid.id, GridAssignment.user_id == worker.id, active_assignment(at)))
    if existing is not None:
        return existing
    assignment = GridAssignment(grid_id=grid.id, user_id=worker.id, valid_from=at)
    db_session.add(assignment)
    db_session.flush()
    return assignment


def unassign_worker(*, db_session: Session, grid: Grid, worker: User, at: datetime) -> int:
    """Close open assignments (history is kept); returns how many were closed."""
    rows = list(db_session.scalars(select(GridAssignment).where(
        GridAssignment.grid_id == grid.id, GridAssignment.user_id == worker.id, active_assignment(at))))
    for a in rows:
        a.valid_to = at
    db_session.flush()
    return len(rows)


def worker_grid_codes(*, db_session: Session, worker: User, at: datetime) -> list[str]:
    q = (select(Grid.code).join(GridAssignment, GridAssignment.grid_id == Grid.id)
         .where(GridAssignment.user_id == worker.id, active_assignment(at)).order_by(Grid.code))
    return list(db_session.scalars(q))


_SQLITE_FRAME = text("SELECT rowid FROM SpatialIndex WHERE f_table_name = 'grid' AND f_geometry_column = 'geom' "
                     "AND search_frame = BuildMbr(:x0, :y0, :x1, :y1, 4490)")
# Built once: a statement object keeps its cache key, so each call skips building and keying it. Rows,
# not Grid entities: the three columns the rule needs, without the ORM's loading of every column.
_CANDIDATE_COLUMNS = (Grid.id, Grid.code, Grid.geom)
_CANDIDATES = {
    "sqlite": select(*_CANDIDATE_COLUMNS).where(Grid.retired_at.is_(None), Grid.id.in_(_SQLITE_FRAME)),
    "postgresql": select(*_CANDIDATE_COLUMNS).where(Grid.retired_at.is_(None), func.ST_Intersects(
        Grid.geom, func.ST_MakeEnvelope(bindparam("x0"), bindparam("y0"), bindparam("x1"), bindparam("y1"), CGCS2000))),
}


class GridHit(Protocol):
    """A grid a point fell in: its id and code (a row of _CANDIDATES)."""

    id: int
    code: str


def _ewkb(geom: WKBElement) -> bytes | str:
    """The geometry as the database sent it (EWKB bytes, or hex text), hashable: a cache key."""
    return geom.data if isinstance(geom.data, str) else bytes(geom.data)


@lru_cache(maxsize=512)
def _index(layer: tuple[tuple[str, bytes | str], ...]) -> tuple[GridIndex, threading.Lock]:
    """The GridIndex of candidate grids, keyed by their codes *and geometries* (the WKB read just now),
    so an edited or retired grid is a new key, never a stale answer; it saves parsing, validating
    and indexing the same polygons for every report from the same place. With its lock: request
    threads share it, and GEOS's prepared polygons build their caches lazily, unsafe to race on
    (shapely releases the GIL inside intersects_xy); one point's lookup holds it for microseconds."""
    return GridIndex([code for code, _ in layer], [shapely.from_wkb(wkb) for _, wkb in layer]), threading.Lock()


def grids_at(*, db_session: Session, points: Sequence[tuple[float, float] | None]) -> list[GridHit | None]:
    """The active grid holding each CGCS2000 point (None outside every grid, or for no point).

    One rule for one point (an event report) and for many (a device ledger, a fleet): the database
    only narrows the active grids to those whose bounding box meets the points' envelope, in one
    query, and gis.assign.GridIndex decides every point, so a point on a shared border goes to the
    smallest code whichever way it arrives. SpatiaLite only uses its R*Tree through the SpatialIndex
    virtual table (FACTS.md), so that pre-filter is explicit there; PostGIS's ST_Intersects uses GiST.
    """
    real = [p for p in points if p is not None]
    if not real:
        return [None] * len(points)
    xs, ys = np.array([p[0] for p in real]), np.array([p[1] for p in real])
    frame = {"x0": float(xs.min() - MARGIN_DEG), "y0": float(ys.min() - MARGIN_DEG),
             "x1": float(xs.max() + MARGIN_DEG), "y1": float(ys.max() + MARGIN_DEG)}
    dialect = db_session.get_bind().dialect.name
    rows = db_session.execute(_CANDIDATES["sqlite" if dialect == "sqlite" else "postgresql"], frame).all()
    if not rows:
        return [None] * len(points)
    index, lock = _index(tuple((g.code, _ewkb(g.geom)) for g in rows))
    with lock:
        assigned = index.assign(xs, ys)
    hits = iter(assigned.tolist())
    return [None if p is None or (i := next(hits)) == OUTSIDE else rows[i] for p in points]


def grid_at(*, db_session: Session, lon: float, lat: float) -> GridHit | None:
    """The active grid containing a CGCS2000 point, by the gis.assign rule (see grids_at)."""
    return grids_at(db_session=db_session, points=[(lon, lat)])[0]


def active_grid_codes(*, db_session: Session, community_id: int) -> list[str]:
    """Grids still in use in a community: it cannot be retired before them."""
    return list(db_session.scalars(select(Grid.code).where(Grid.community_id == community_id,
                                                           Grid.retired_at.is_(None)).order_by(Grid.code)))


def workers_on(*, db_session: Session, grid: Grid, at: datetime) -> list[tuple[User, datetime]]:
    """The workers assigned to a grid at `at`, with the start of their assignment, longest-serving first."""
    q = (select(User, GridAssignment.valid_from).join(GridAssignment, GridAssignment.user_id == User.id)
         .where(GridAssignment.grid_id == grid.id, active_assignment(at))
         .order_by(GridAssignment.valid_from, User.username))
    return [(u, since) for u, since in db_session.execute(q)]
