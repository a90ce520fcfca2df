"""Column types shared by the domains."""

from __future__ import annotations

from datetime import UTC, datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

from gis.crs import CGCS2000


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC everywhere: SQLite drops tzinfo, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: gridops stores timezone-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def multipolygon() -> Geometry:
    """Polygons are always stored as MULTIPOLYGON in EPSG:4490, one type for every grid."""
    return Geometry("MULTIPOLYGON", srid=CGCS2000, spatial_index=True)
