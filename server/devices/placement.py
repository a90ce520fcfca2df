"""Where a device is: datum conversion on input and point → grid by the gis.assign rule.

Devices and rentals share this, so a point on a grid border lands in the same grid (the
smallest code) whichever way it was registered, one at a time or by spreadsheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
from geoalchemy2.elements import WKTElement
from geoalchemy2.shape import from_shape, to_shape
from shapely import box
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.assign import OUTSIDE, GridIndex
from gis.crs import CGCS2000
from gis.datum import to_cgcs2000
from server.config import get_settings
from server.geometry import to_shapely
from server.grids.models import Grid

MARGIN_DEG = 1e-6


def to_point(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """CGCS2000 lon/lat; GisInputError for an unknown datum or impossible coordinates."""
    x, y = to_cgcs2000(lon, lat, datum)
    return float(x), float(y)


def db_point(lon: float, lat: float) -> WKTElement:
    return from_shape(Point(lon, lat), srid=CGCS2000)


def lon_lat(value: object) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    p = to_shape(value)
    return p.x, p.y


def grid_ids(db_session: Session, points: Sequence[tuple[float, float] | None]) -> list[int | None]:
    """Active grid id for each point (None outside every grid or without a point), in one query."""
    real = [p for p in points if p is not None]
    if not real:
        return [None] * len(points)
    xs, ys = np.array([p[0] for p in real]), np.array([p[1] for p in real])
    env = from_shape(box(xs.min() - MARGIN_DEG, ys.min() - MARGIN_DEG, xs.max() + MARGIN_DEG,
                         ys.max() + MARGIN_DEG), srid=CGCS2000)
    rows = db_session.execute(select(Grid.id, Grid.code, Grid.geom).where(
        Grid.retired_at.is_(None), func.ST_Intersects(Grid.geom, env))).all()
    if not rows:
        return [None] * len(points)
    index = GridIndex([r.code for r in rows], [to_shapely(r.geom) for r in rows])
    hits = iter(index.assign(xs, ys).tolist())
    out: list[int | None] = []
    for p in points:
        if p is None:
            out.append(None)
        else:
            i = next(hits)
            out.append(None if i == OUTSIDE else rows[i].id)
    return out


def as_utc(value: datetime | date | None) -> datetime | None:
    """A bare date (the ledger's 安装日期) is the start of that day in the local time zone."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), tzinfo=ZoneInfo(get_settings().timezone)).astimezone(ZoneInfo("UTC"))
