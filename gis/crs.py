"""CGCS2000 coordinate reference systems and the one place transformers are built.

Grids are stored in EPSG:4490 (geographic CGCS2000); areas and distances are computed in
the 3-degree Gauss-Krüger zone that holds the geometry, because degrees are not metres.
Building a pyproj Transformer costs ~60 ms (FACTS.md), so each pair is built once.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

CGCS2000 = 4490
WGS84 = 4326

# CGCS2000 / 3-degree Gauss-Krüger: zones 25..45 (central meridians 75°E..135°E).
GK_FIRST_ZONE = 25
GK_LAST_ZONE = 45
GK_PREFIXED_BASE = 4513  # EPSG:4513..4533, false easting carries the zone number
GK_PLAIN_BASE = 4534  # EPSG:4534..4554, "CM xxE", false easting 500 000 m


def gk_zone(lon: float) -> int:
    """3-degree zone whose central meridian (3 × zone) is nearest to ``lon``."""
    zone = int(round(lon / 3.0))
    if not GK_FIRST_ZONE <= zone <= GK_LAST_ZONE:
        raise ValueError(f"longitude {lon} is outside China's 3-degree GK zones 25..45")
    return zone


def gk_epsg(zone: int, *, prefixed: bool = False) -> int:
    """EPSG code of a CGCS2000 3-degree GK zone, with or without the zone prefix."""
    if not GK_FIRST_ZONE <= zone <= GK_LAST_ZONE:
        raise ValueError(f"GK zone {zone} is not in 25..45")
    base = GK_PREFIXED_BASE if prefixed else GK_PLAIN_BASE
    return base + zone - GK_FIRST_ZONE


def gk_zone_of_epsg(epsg: int) -> tuple[int, bool] | None:
    """(zone, prefixed) for a CGCS2000 GK EPSG code, or None if it is not one."""
    if GK_PREFIXED_BASE <= epsg < GK_PREFIXED_BASE + 21:
        return epsg - GK_PREFIXED_BASE + GK_FIRST_ZONE, True
    if GK_PLAIN_BASE <= epsg < GK_PLAIN_BASE + 21:
        return epsg - GK_PLAIN_BASE + GK_FIRST_ZONE, False
    return None


def is_supported(epsg: int) -> bool:
    """The CRSs gridops accepts for grid data: CGCS2000 geographic or GK, and WGS-84."""
    return epsg in (CGCS2000, WGS84) or gk_zone_of_epsg(epsg) is not None


@lru_cache(maxsize=128)
def transformer(src_epsg: int, dst_epsg: int) -> pyproj.Transformer:
    """Cached lon/lat-ordered transformer (GK CRSs are northing-first without always_xy)."""
    return pyproj.Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)


_NOOP: dict[tuple[int, int], bool] = {}
_NOOP_ASKED = threading.Lock()


def is_noop(src_epsg: int, dst_epsg: int) -> bool:
    """PROJ's operation between the two CRSs moves no coordinate (`proj=noop`: WGS-84 ↔ CGCS2000 is
    a ballpark zero offset, the frames differ by centimetres). Asked once per process, under a lock
    (the first reports arrive together, in many threads): a pyproj Transformer builds its PROJ object
    again in every thread that uses it (~80 ms of CPU each, and the server's worker threads come and
    go), which made it most of an event report's CPU."""
    key = (src_epsg, dst_epsg)
    if key not in _NOOP:
        with _NOOP_ASKED:
            if key not in _NOOP:
                _NOOP[key] = "proj=noop" in transformer(src_epsg, dst_epsg).definition.split()
    return _NOOP[key]


def transform(geom: BaseGeometry, src_epsg: int, dst_epsg: int) -> BaseGeometry:
    """Reproject a shapely geometry with one vectorised call over all its coordinates."""
    if src_epsg == dst_epsg:
        return geom
    tr = transformer(src_epsg, dst_epsg)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _apply)


def local_gk_epsg(geom_4490: BaseGeometry) -> int:
    """The plain GK zone CRS for a CGCS2000 geometry, chosen by the middle of its extent
    (not the centroid, which is empty for zero-area shapes such as a symmetric bow-tie)."""
    minx, _, maxx, _ = geom_4490.bounds
    return gk_epsg(gk_zone((minx + maxx) / 2.0))


def area_m2(geom_4490: BaseGeometry) -> float:
    """Planar area in m² in the geometry's own GK zone (the surveyors' convention)."""
    return float(transform(geom_4490, CGCS2000, local_gk_epsg(geom_4490)).area)
