"""Reading and writing the CRS of a shapefile (.prj, ESRI-flavoured WKT1).

Grid boundaries arrive from surveying bureaus and ArcGIS/SuperMap exports whose .prj text
often carries home-made names ("GCS_CGCS2000", "D_CGCS2000") that PROJ cannot match to an
EPSG code, so when pyproj gives up we recognise CGCS2000 3-degree Gauss-Krüger zones from
the projection parameters themselves. Anything else is refused by name rather than guessed,
because a wrong CRS silently shifts every grid by kilometres.
"""

from __future__ import annotations

import math
import re

import pyproj
from pyproj.enums import WktVersion
from pyproj.exceptions import CRSError

from common.errors import InputError
from gis.crs import CGCS2000, GK_FIRST_ZONE, GK_LAST_ZONE, WGS84, gk_epsg, is_supported

MIN_CONFIDENCE = 70  # pyproj's own default; lower matches pick unrelated datums

_CGCS2000_DATUM = re.compile(r"cgcs2000|china2000|chinageodeticcoordinatesystem2000")
_WGS84_DATUM = re.compile(r"wgs84|wgs1984|worldgeodeticsystem1984")
# (semi-major axis, inverse flattening) of the ellipsoids we accept.
_CGCS2000_ELLIPSOID = (6378137.0, 298.257222101)
_WGS84_ELLIPSOID = (6378137.0, 298.257223563)
_TM_METHODS = {"transversemercator", "gausskruger", "gausskrueger"}
# EPSG parameter codes of the Transverse Mercator method.
_LAT0, _LON0, _K0, _FE, _FN = "8801", "8802", "8805", "8806", "8807"

SUPPORTED_EN = "EPSG:4490 (CGCS2000), EPSG:4513-4554 (CGCS2000 3-degree GK zones), EPSG:4326"
SUPPORTED_ZH = "EPSG:4490（CGCS2000地理坐标）、EPSG:4513-4554（CGCS2000 3度带高斯-克吕格投影）、EPSG:4326"


def _norm(name: str | None) -> str:
    return re.sub(r"[^0-9a-z]", "", (name or "").lower())


def _unsupported(found: str) -> InputError:
    return InputError(
        "unsupported_crs",
        f"不支持的坐标系：{found}。仅支持{SUPPORTED_ZH}。",
        f"unsupported coordinate reference system: {found}; supported are {SUPPORTED_EN}",
    )


def _describe(crs: pyproj.CRS, epsg: int | None) -> str:
    """Name plus the facts a user needs to see why it was refused (datum, projection)."""
    if epsg:
        return f"{crs.name} (EPSG:{epsg})"
    facts = [f"datum {crs.datum.name}" if crs.datum else "no datum"]
    params = _tm_params(crs) if crs.is_projected else None
    if params is not None:
        facts.append(
            f"Transverse Mercator CM {params.get(_LON0, float('nan')):g}E"
            f" false easting {params.get(_FE, float('nan')):.0f}"
        )
    elif crs.coordinate_operation is not None:
        facts.append(crs.coordinate_operation.method_name)
    return f"{crs.name} ({', '.join(facts)})"


def _ellipsoid_is(crs: pyproj.CRS, expected: tuple[float, float]) -> bool:
    ell = crs.ellipsoid
    if ell is None:
        return False
    return math.isclose(ell.semi_major_metre, expected[0], abs_tol=1e-3) and math.isclose(
        ell.inverse_flattening, expected[1], abs_tol=1e-6
    )


def _is_cgcs2000(crs: pyproj.CRS) -> bool:
    datum = crs.datum
    return (
        datum is not None
        and bool(_CGCS2000_DATUM.search(_norm(datum.name)))
        and _ellipsoid_is(crs, _CGCS2000_ELLIPSOID)
    )


def _greenwich_degrees(crs: pyproj.CRS) -> bool:
    pm = crs.prime_meridian
    axis = crs.axis_info
    return (pm is None or pm.longitude == 0) and bool(axis) and all(
        math.isclose(a.unit_conversion_factor, math.pi / 180, rel_tol=1e-9) for a in axis
    )


def _geographic_epsg(crs: pyproj.CRS) -> int | None:
    """4490 / 4326 for a 2-D lon/lat CRS on the right datum, whatever it is called."""
    if not crs.is_geographic or len(crs.axis_info) != 2 or not _greenwich_degrees(crs):
        return None
    if _is_cgcs2000(crs):
        return CGCS2000
    datum = crs.datum
    if datum is not None and _WGS84_DATUM.search(_norm(datum.name)) and _ellipsoid_is(
        crs, _WGS84_ELLIPSOID
    ):
        return WGS84
    return None


def _tm_params(crs: pyproj.CRS) -> dict[str, float] | None:
    """Transverse Mercator parameters in degrees / metres keyed by EPSG code, or None."""
    op = crs.coordinate_operation
    if op is None or _norm(op.method_name) not in _TM_METHODS:
        return None
    params: dict[str, float] = {}
    for p in op.params:
        value = p.value * p.unit_conversion_factor  # -> radians, metres or unity
        params[p.code] = math.degrees(value) if p.code in (_LAT0, _LON0) else value
    return params


def _gk_epsg_from_params(crs: pyproj.CRS) -> int | None:
    """EPSG code of a CGCS2000 3-degree GK zone recognised from its parameters, or None."""
    if not crs.is_projected or not _is_cgcs2000(crs):
        return None
    if any(not math.isclose(a.unit_conversion_factor, 1.0) for a in crs.axis_info):
        return None  # feet or kilometres: not a surveying GK grid
    params = _tm_params(crs)
    if params is None:
        return None
    lon0, fe = params.get(_LON0), params.get(_FE)
    if lon0 is None or fe is None or abs(lon0 / 3 - round(lon0 / 3)) > 1e-9:
        return None
    zone = round(lon0 / 3)
    if not GK_FIRST_ZONE <= zone <= GK_LAST_ZONE:
        return None
    if not (
        math.isclose(params.get(_K0, 1.0), 1.0, abs_tol=1e-12)
        and abs(params.get(_LAT0, 0.0)) < 1e-9
        and abs(params.get(_FN, 0.0)) < 1e-6
    ):
        return None
    if abs(fe - 500_000) < 1e-6:
        return gk_epsg(zone, prefixed=False)
    if abs(fe - (zone * 1_000_000 + 500_000)) < 1e-6:
        return gk_epsg(zone, prefixed=True)
    return None


def epsg_from_prj(wkt: str) -> int:
    """EPSG code of a supported CRS described by .prj WKT; InputError otherwise."""
    text = (wkt or "").strip().lstrip("\ufeff")
    try:
        crs = pyproj.CRS.from_wkt(text)
    except CRSError:
        snippet = text[:60] + ("…" if len(text) > 60 else "")
        raise InputError(
            "unsupported_crs",
            f".prj文件内容无法识别为坐标系定义（WKT）：“{snippet}”",
            f".prj content is not a readable WKT coordinate system: {snippet!r}",
        ) from None
    epsg = crs.to_epsg(min_confidence=MIN_CONFIDENCE)
    if epsg is not None and is_supported(epsg):
        return epsg
    # pyproj may pick an equivalent but unsupported code (the 6-degree zone CM 111E has the
    # same parameters as 3-degree CM 111E), or none at all for home-made datum names.
    recognised = _geographic_epsg(crs) if crs.is_geographic else _gk_epsg_from_params(crs)
    if recognised is not None:
        return recognised
    raise _unsupported(_describe(crs, epsg))


def prj_for_epsg(epsg: int) -> str:
    """ESRI WKT1 for a supported EPSG code: the dialect ArcGIS and SuperMap users can read."""
    if not is_supported(epsg):
        raise _unsupported(f"EPSG:{epsg}")
    return pyproj.CRS.from_epsg(epsg).to_wkt(WktVersion.WKT1_ESRI)
