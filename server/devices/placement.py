"""Where a device is: datum conversion on input and point → grid by the gis.assign rule.

Devices and rentals share this; the grid comes from grids.service.grids_at, as an event's does, so a
point on a grid border lands in the same grid (the smallest code) whichever way it was registered,
one at a time or by spreadsheet, and whatever was reported there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from geoalchemy2.elements import WKTElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gis.crs import CGCS2000
from gis.datum import to_cgcs2000
from server.config import get_settings
from server.grids import service as grids


def to_point(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """CGCS2000 lon/lat; InputError for an unknown datum or impossible coordinates."""
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
    """Active grid id for each point (None outside every grid or without a point): grids.service.grids_at."""
    return [g.id if g is not None else None for g in grids.grids_at(db_session=db_session, points=points)]


def as_utc(value: datetime | date | None) -> datetime | None:
    """A bare date (the ledger's 安装日期) is the start of that day in the local time zone."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), tzinfo=ZoneInfo(get_settings().timezone)).astimezone(ZoneInfo("UTC"))
