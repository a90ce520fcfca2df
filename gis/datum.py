"""Datum conversion for points reported by Chinese phone map SDKs.

Phones send positions in whatever the map SDK hands them: raw GNSS (WGS-84), the
state-mandated obfuscated GCJ-02 (AMap/高德, Tencent, Google China) or Baidu's BD-09,
which is a further rotation/shift on top of GCJ-02. Grids are stored in CGCS2000
(EPSG:4490), so every point is brought back to WGS-84 and then to CGCS2000.

Conventions and limits (why the numbers are what they are):

* GCJ-02 forward is the widely published reverse-engineered algorithm (Krasovsky 1940
  ellipsoid a=6378245.0, ee=0.00669342162296594323 and the transformLat/transformLon
  polynomials), as in eviltransform and coordtransform. It is not the official
  implementation; published SDK outputs agree with it to well under a metre.
* Outside the rough China bounding box (lon 72.004..137.8347, lat 0.8293..55.8271) the
  SDKs do not obfuscate, so GCJ-02 == WGS-84 there; inside the box the shift is applied
  even over sea or neighbouring countries (the box is all the SDKs check).
* GCJ-02 -> WGS-84 has no closed form: it is solved by fixed-point iteration until the
  residual, measured in metres on the WGS-84 ellipsoid, is below 0.01 m.
* BD-09 <-> GCJ-02 uses the standard x_pi = pi*3000/180 formulas. The closed-form
  bd09->gcj02 is only an approximate inverse (error up to ~2e-6 deg, i.e. ~0.2 m, see
  ``bd09_to_gcj02``); ``bd09_to_gcj02_exact`` iterates it down to 0.01 m and is what
  ``to_cgcs2000`` uses. Baidu applies BD-09 everywhere, so there is no China box check.
* WGS-84 -> CGCS2000 is a null shift at metre level (the frames differ by centimetres);
  it still asks PROJ (``gis.crs``) which operation applies, so the datum step is explicit and
  picks up a real transformation if PROJ ever provides one; while PROJ's answer is its no-op,
  the coordinates are passed through without a PROJ object per thread (``crs.is_noop``).

Every public function accepts scalars (floats back) or numpy arrays (arrays back).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Callable, TypeAlias

import numpy as np

from common.errors import InputError
from gis import crs

Coord: TypeAlias = float | np.ndarray
Pair: TypeAlias = tuple[Coord, Coord]

DATUMS = ("wgs84", "gcj02", "bd09", "cgcs2000")

# Krasovsky 1940, as hard-coded in the GCJ-02 algorithm.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# WGS-84, to turn degree residuals into metres for the stop criterion.
_WGS84_A = 6378137.0
_WGS84_EE = 0.00669437999014

_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

TOLERANCE_M = 0.01
MAX_ITERATIONS = 30


# ---------------------------------------------------------------- array plumbing


def coordinate_arrays(lon: Coord, lat: Coord) -> tuple[np.ndarray, np.ndarray, bool]:
    """Float arrays of one shape, and whether the caller passed scalars (floats back)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    try:
        x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    except (TypeError, ValueError) as exc:
        raise InputError(
            "invalid_coordinate",
            f"经纬度无法解析或长度不一致：{exc}",
            f"longitude/latitude are not numeric or have mismatched shapes: {exc}",
        ) from None
    return x.copy(), y.copy(), scalar


def _out(x: np.ndarray, y: np.ndarray, scalar: bool) -> Pair:
    return (float(x), float(y)) if scalar else (x, y)


def validate(lon: Coord, lat: Coord) -> None:
    """Reject NaN/inf and out-of-range values before they turn into silent garbage."""
    x, y, _ = coordinate_arrays(lon, lat)
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        bx, by = x.ravel()[i], y.ravel()[i]
        raise InputError(
            "invalid_coordinate",
            f"坐标无效（经度需在 -180..180、纬度需在 -90..90 且为有限数）：第 {i} 个点 ({bx}, {by})",
            f"invalid coordinate (lon must be in -180..180, lat in -90..90, finite): "
            f"point #{i} ({bx}, {by})",
        )


def _china_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x >= _CHINA_LON[0]) & (x <= _CHINA_LON[1]) & (y >= _CHINA_LAT[0]) & (y <= _CHINA_LAT[1])


def in_china(lon: Coord, lat: Coord) -> bool | np.ndarray:
    """The bounding box the SDKs use to decide whether to obfuscate at all."""
    x, y, scalar = coordinate_arrays(lon, lat)
    mask = _china_mask(x, y)
    return bool(mask) if scalar else mask


# ---------------------------------------------------------------- GCJ-02


# The formulas below take the module of their functions: numpy for arrays, or _POINT for one point (a
# phone's report): on plain floats they run about 20 times faster than on 1-element arrays, where
# numpy's per-call overhead is the whole cost (a GCJ-02 report's inversion took ~0.6 ms).
_POINT = SimpleNamespace(sqrt=math.sqrt, abs=abs, sin=math.sin, cos=math.cos, pi=math.pi, radians=math.radians,
                         hypot=math.hypot)


def _transform_lat(x: Any, y: Any, xp: Any = np) -> Any:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * xp.sqrt(xp.abs(x))
    ret += (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    ret += (20.0 * xp.sin(y * xp.pi) + 40.0 * xp.sin(y / 3.0 * xp.pi)) * 2.0 / 3.0
    ret += (160.0 * xp.sin(y / 12.0 * xp.pi) + 320.0 * xp.sin(y * xp.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: Any, y: Any, xp: Any = np) -> Any:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * xp.sqrt(xp.abs(x))
    ret += (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    ret += (20.0 * xp.sin(x * xp.pi) + 40.0 * xp.sin(x / 3.0 * xp.pi)) * 2.0 / 3.0
    ret += (150.0 * xp.sin(x / 12.0 * xp.pi) + 300.0 * xp.sin(x / 30.0 * xp.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lon: Any, lat: Any, xp: Any = np) -> tuple[Any, Any]:
    """GCJ-02 minus WGS-84 in degrees, without the China box check."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0, xp)
    dlon = _transform_lon(lon - 105.0, lat - 35.0, xp)
    radlat = lat / 180.0 * xp.pi
    magic = 1.0 - _KRASOVSKY_EE * xp.sin(radlat) ** 2
    sqrtmagic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrtmagic) * xp.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrtmagic * xp.cos(radlat) * xp.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: Coord, lat: Coord) -> Pair:
    """Forward GCJ-02; identity outside the China box (the SDKs do the same)."""
    x, y, scalar = coordinate_arrays(lon, lat)
    xf, yf = x.reshape(-1), y.reshape(-1)  # views: _arrays returns contiguous copies
    inside = _china_mask(xf, yf)
    dlon, dlat = _gcj_delta(xf[inside], yf[inside])
    xf[inside] += dlon
    yf[inside] += dlat
    return _out(x, y, scalar)


def residual_m(dlon: np.ndarray, dlat: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Length in metres of a small (dlon, dlat) step at ``lat`` on the WGS-84 ellipsoid.

    Uses the meridian (M) and prime-vertical (N) radii of curvature, because a degree of
    longitude at 40°N is ~85 km, not the ~111 km a naive factor would assume.
    """
    return _residual_m(dlon, dlat, lat)


def _residual_m(dlon: Any, dlat: Any, lat: Any, xp: Any = np) -> Any:
    phi = xp.radians(lat)
    w = 1.0 - _WGS84_EE * xp.sin(phi) ** 2
    m = _WGS84_A * (1.0 - _WGS84_EE) / (w * xp.sqrt(w))
    n = _WGS84_A / xp.sqrt(w)
    return xp.hypot(xp.radians(dlon) * n * xp.cos(phi), xp.radians(dlat) * m)


Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _invert(forward: Forward, tx: np.ndarray, ty: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x, y) == (tx, ty) by fixed-point iteration x <- x - (forward(x) - t).

    Converges because both shifts vary slowly (every entry of Jacobian - I is below ~6e-3
    across China), so each step cuts the error ~100-fold: 4 steps take a ~700 m offset
    below 0.01 m. The stop test is the residual forward(x) - t in metres *before* the
    last correction, so the returned point is better still. Converged points are frozen.
    """
    x, y = tx.copy(), ty.copy()
    todo = np.arange(tx.size)
    for _ in range(MAX_ITERATIONS):
        fx, fy = forward(x[todo], y[todo])
        ex, ey = fx - tx[todo], fy - ty[todo]
        x[todo] -= ex
        y[todo] -= ey
        todo = todo[residual_m(ex, ey, ty[todo]) >= TOLERANCE_M]
        if todo.size == 0:
            return x, y
    i = int(todo[0])
    raise _not_converged(what, i, tx[i], ty[i])


def _not_converged(what: str, i: int, tx: Any, ty: Any) -> InputError:
    return InputError(
        "datum_not_converged",
        f"{what} 反算在 {MAX_ITERATIONS} 次迭代内未收敛：第 {i} 个点 ({tx}, {ty})",
        f"{what} inverse did not converge in {MAX_ITERATIONS} iterations: point #{i} ({tx}, {ty})",
    )


def _gcj_forward_unmasked(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_delta(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(lon: Coord, lat: Coord) -> Pair:
    """Exact (< 0.01 m) inverse of ``wgs84_to_gcj02``.

    The box check is made on the GCJ-02 input; inside it the WGS-84 answer is assumed to
    be inside too (only wrong within ~1 km of the box edge, which is sea or abroad).
    """
    x, y, scalar = coordinate_arrays(lon, lat)
    if scalar and bool(_china_mask(x, y)):
        return _gcj02_point_to_wgs84(float(x), float(y))
    xf, yf = x.reshape(-1), y.reshape(-1)  # views: _arrays returns contiguous copies
    inside = _china_mask(xf, yf)
    if inside.any():
        xf[inside], yf[inside] = _invert(_gcj_forward_unmasked, xf[inside], yf[inside], "GCJ-02")
    return _out(x, y, scalar)


def _gcj02_point_to_wgs84(tx: float, ty: float) -> tuple[float, float]:
    """`_invert` of the GCJ-02 shift for one point, on floats (see _POINT): the same iteration."""
    x, y = tx, ty
    for _ in range(MAX_ITERATIONS):
        dlon, dlat = _gcj_delta(x, y, _POINT)
        ex, ey = x + dlon - tx, y + dlat - ty
        x, y = x - ex, y - ey
        if _residual_m(ex, ey, ty, _POINT) < TOLERANCE_M:
            return x, y
    raise _not_converged("GCJ-02", 0, tx, ty)


# ---------------------------------------------------------------- BD-09


def _bd_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def gcj02_to_bd09(lon: Coord, lat: Coord) -> Pair:
    """Baidu's published GCJ-02 -> BD-09 formula (applied everywhere, no box check)."""
    x, y, scalar = coordinate_arrays(lon, lat)
    bx, by = _bd_forward(x, y)
    return _out(bx, by, scalar)


def bd09_to_gcj02(lon: Coord, lat: Coord) -> Pair:
    """The usual closed-form approximate inverse of ``gcj02_to_bd09``.

    It reverses the perturbations evaluated at the wrong point, so a round trip
    gcj->bd->gcj is off by up to ~2e-6 deg (~0.22 m measured over China) — fine for
    display, not for the 0.01 m target; use ``bd09_to_gcj02_exact`` for that.
    """
    x, y, scalar = coordinate_arrays(lon, lat)
    x, y = x - _BD_DLON, y - _BD_DLAT
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta), z * np.sin(theta), scalar)


def bd09_to_gcj02_exact(lon: Coord, lat: Coord) -> Pair:
    """Iterative inverse of ``gcj02_to_bd09`` to < 0.01 m (usually one extra step)."""
    x, y, scalar = coordinate_arrays(lon, lat)
    sx, sy = _invert(_bd_forward, x.ravel(), y.ravel(), "BD-09")
    return _out(sx.reshape(x.shape), sy.reshape(y.shape), scalar)


def wgs84_to_bd09(lon: Coord, lat: Coord) -> Pair:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Coord, lat: Coord) -> Pair:
    return gcj02_to_wgs84(*bd09_to_gcj02_exact(lon, lat))


# ---------------------------------------------------------------- entry point


def normalize_datum(datum: str) -> str:
    """Lower-cased, stripped datum name, or InputError("unknown_datum")."""
    name = datum.strip().lower() if isinstance(datum, str) else None
    if name not in DATUMS:
        raise InputError(
            "unknown_datum",
            f"不支持的坐标系：{datum!r}（可选：{', '.join(DATUMS)}）",
            f"unknown datum {datum!r} (expected one of: {', '.join(DATUMS)})",
        )
    return name


def to_wgs84(lon: Coord, lat: Coord, datum: str) -> Pair:
    """Validated conversion of SDK coordinates in ``datum`` to WGS-84."""
    name = normalize_datum(datum)
    validate(lon, lat)
    return _to_wgs84(lon, lat, name)


def _to_wgs84(lon: Coord, lat: Coord, name: str) -> Pair:
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    if name == "cgcs2000":
        return _reproject(lon, lat, crs.CGCS2000, crs.WGS84)
    x, y, scalar = coordinate_arrays(lon, lat)
    return _out(x, y, scalar)


def to_cgcs2000(lon: Coord, lat: Coord, datum: str) -> Pair:
    """The server's entry point: SDK coordinates in ``datum`` -> CGCS2000 (EPSG:4490).

    ``datum`` is one of wgs84, gcj02, bd09, cgcs2000 (case-insensitive). Raises
    InputError "unknown_datum" or "invalid_coordinate" (NaN/inf/out of range).
    """
    name = normalize_datum(datum)
    validate(lon, lat)
    if name == "cgcs2000":
        x, y, scalar = coordinate_arrays(lon, lat)
        return _out(x, y, scalar)
    wlon, wlat = _to_wgs84(lon, lat, name)
    return _reproject(wlon, wlat, crs.WGS84, crs.CGCS2000)


def _reproject(lon: Coord, lat: Coord, src: int, dst: int) -> Pair:
    x, y, scalar = coordinate_arrays(lon, lat)
    if crs.is_noop(src, dst):
        return _out(np.array(x), np.array(y), scalar)  # copies, as PROJ's would be (the inputs may be views)
    rx, ry = crs.transformer(src, dst).transform(x, y)
    return _out(np.asarray(rx, dtype=float), np.asarray(ry, dtype=float), scalar)
