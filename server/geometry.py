"""Shapely ↔ database geometry, in one place, so every domain stores EPSG:4490 the same way."""

from __future__ import annotations

from geoalchemy2.elements import WKBElement, WKTElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.crs import CGCS2000


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    raise TypeError(f"expected a polygon, got {geom.geom_type}")


def to_db_multipolygon(geom: BaseGeometry) -> WKBElement:
    return from_shape(as_multipolygon(geom), srid=CGCS2000)


def to_shapely(value: WKBElement | WKTElement | None) -> BaseGeometry | None:
    return None if value is None else to_shape(value)
