"""Tests for gis.datum: published reference pairs plus properties over all of China."""

from __future__ import annotations

import math

import numpy as np
import pytest

from common.errors import InputError
from gis import datum

DEG_TOL = 1e-6  # ~0.1 m; the published digits are exact to ~1e-14 in practice

# wandergis/coordtransform README (npm "coordtransform"), input (116.404, 39.915) for all.
README_IN = (116.404, 39.915)


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (datum.wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
        (datum.gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
        (datum.bd09_to_gcj02, (116.39762729119315, 39.90865673957631)),
        # The README's gcj02towgs84 is the one-step approximation 2*p - f(p); ours is
        # the exact inverse, which differs from it by ~5e-7 deg (~6 cm) here.
        (datum.gcj02_to_wgs84, (116.39775550083061, 39.91359571849836)),
    ],
    ids=["wgs84->gcj02", "gcj02->bd09", "bd09->gcj02", "gcj02->wgs84"],
)
def test_coordtransform_readme_pairs(func, expected):
    lon, lat = func(*README_IN)
    assert lon == pytest.approx(expected[0], abs=DEG_TOL)
    assert lat == pytest.approx(expected[1], abs=DEG_TOL)


def test_forward_gcj02_matches_readme_to_full_precision():
    assert datum.wgs84_to_gcj02(*README_IN) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )


def test_wgs84_to_bd09_is_the_composition():
    lon, lat = datum.wgs84_to_bd09(*README_IN)
    assert (lon, lat) == pytest.approx(datum.gcj02_to_bd09(116.41024449916938, 39.91640428150164))


def _china_grid(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.6, 134.9, n), np.linspace(18.2, 53.5, n))
    return lon, lat


def _metres(lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
    return datum.residual_m(np.asarray(lon_a) - lon_b, np.asarray(lat_a) - lat_b, np.asarray(lat_b))


def test_gcj02_round_trip_below_1cm_across_china():
    lon, lat = _china_grid()
    back = datum.gcj02_to_wgs84(*datum.wgs84_to_gcj02(lon, lat))
    assert back[0].shape == lon.shape
    assert _metres(*back, lon, lat).max() < 0.01


def test_inverse_then_forward_also_round_trips():
    """Treat the grid as GCJ-02 input: forward(inverse(g)) must give g back."""
    lon, lat = _china_grid()
    again = datum.wgs84_to_gcj02(*datum.gcj02_to_wgs84(lon, lat))
    assert _metres(*again, lon, lat).max() < 0.01


def test_gcj02_offset_is_bounded_across_china():
    # The offset is not 100-700 m everywhere: it dips to ~20 m around Qinghai (98E, 37N).
    lon, lat = _china_grid()
    offset = _metres(*datum.wgs84_to_gcj02(lon, lat), lon, lat)
    assert offset.min() > 10.0
    assert offset.max() < 750.0


@pytest.mark.parametrize(
    ("city", "lon", "lat"),
    [
        ("beijing", 116.397, 39.909),
        ("shanghai", 121.473, 31.230),
        ("guangzhou", 113.264, 23.129),
        ("chengdu", 104.066, 30.572),
        ("harbin", 126.535, 45.803),
        ("urumqi", 87.617, 43.793),
        ("lhasa", 91.117, 29.647),
        ("sanya", 109.512, 18.252),
    ],
)
def test_gcj02_offset_in_cities_is_100_to_700_m(city, lon, lat):
    glon, glat = datum.wgs84_to_gcj02(lon, lat)
    assert 100.0 < _metres(glon, glat, lon, lat) < 700.0


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (139.6917, 35.6895),  # Tokyo: east of the box
        (-0.1276, 51.5072),  # London
        (151.2093, -33.8688),  # Sydney
        (69.2401, 41.2995),  # Tashkent: west of the box
        (103.8198, 0.5),  # south of the box
        (0.0, 0.0),
    ],
)
def test_outside_china_box_is_identity(lon, lat):
    assert datum.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert datum.gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert datum.in_china(lon, lat) is False


def test_inside_box_but_abroad_is_still_shifted():
    """Seoul is inside the SDKs' bounding box, so it is shifted like Chinese points."""
    lon, lat = datum.wgs84_to_gcj02(126.978, 37.5665)
    assert _metres(lon, lat, 126.978, 37.5665) > 10.0


def test_mixed_inside_and_outside_array():
    lon = np.array([116.404, 139.6917])
    lat = np.array([39.915, 35.6895])
    glon, glat = datum.wgs84_to_gcj02(lon, lat)
    assert glon[1] == lon[1] and glat[1] == lat[1]
    assert glon[0] == pytest.approx(116.41024449916938, abs=1e-12)


def test_bd09_exact_round_trip_below_1cm():
    lon, lat = _china_grid()
    back = datum.bd09_to_gcj02_exact(*datum.gcj02_to_bd09(lon, lat))
    assert _metres(*back, lon, lat).max() < 0.01


def test_bd09_closed_form_inverse_error_is_as_documented():
    lon, lat = _china_grid()
    blon, blat = datum.gcj02_to_bd09(lon, lat)
    approx = datum.bd09_to_gcj02(blon, blat)
    err = _metres(*approx, lon, lat)
    assert err.max() < 0.3
    assert np.abs(approx[0] - lon).max() < 3e-6 and np.abs(approx[1] - lat).max() < 3e-6


def test_bd09_to_wgs84_round_trip():
    lon, lat = _china_grid(30)
    back = datum.bd09_to_wgs84(*datum.wgs84_to_bd09(lon, lat))
    assert _metres(*back, lon, lat).max() < 0.02  # two chained 1 cm inverses


def test_scalars_give_floats_and_arrays_keep_shape():
    lon, lat = datum.to_cgcs2000(116.404, 39.915, "gcj02")
    assert type(lon) is float and type(lat) is float
    arr = np.full((3, 2), 116.404), np.full((3, 2), 39.915)
    alon, alat = datum.to_cgcs2000(*arr, "gcj02")
    assert alon.shape == (3, 2) and alat.shape == (3, 2)
    assert alon[2, 1] == pytest.approx(lon, abs=1e-12)


def test_inputs_are_not_modified():
    lon, lat = np.array([116.404, 113.264]), np.array([39.915, 23.129])
    datum.to_cgcs2000(lon, lat, "bd09")
    datum.wgs84_to_gcj02(lon, lat)
    assert lon.tolist() == [116.404, 113.264] and lat.tolist() == [39.915, 23.129]


@pytest.mark.parametrize("name", ["gcj02", "GCJ02", " Gcj02 ", "gCj02"])
def test_datum_name_is_case_insensitive(name):
    expected = datum.gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    got = datum.to_cgcs2000(116.41024449916938, 39.91640428150164, name)
    assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("name", "lon", "lat", "expected"),
    [
        ("wgs84", 116.404, 39.915, (116.404, 39.915)),
        ("cgcs2000", 116.404, 39.915, (116.404, 39.915)),
        ("gcj02", 116.41024449916938, 39.91640428150164, (116.404, 39.915)),
        ("bd09", *datum.gcj02_to_bd09(116.41024449916938, 39.91640428150164), (116.404, 39.915)),
        ("gcj02", 139.6917, 35.6895, (139.6917, 35.6895)),
    ],
)
def test_to_cgcs2000(name, lon, lat, expected):
    got = datum.to_cgcs2000(lon, lat, name)
    assert got == pytest.approx(expected, abs=1e-7)  # ~1 cm; WGS84->CGCS2000 is a null shift


@pytest.mark.parametrize("name", ["", "wgs-84", "gcj", "bd-09", "epsg:4490", "utm"])
def test_unknown_datum(name):
    with pytest.raises(InputError) as err:
        datum.to_cgcs2000(116.4, 39.9, name)
    assert err.value.code == "unknown_datum"
    assert err.value.message_zh and err.value.message_en


def test_non_string_datum_is_unknown():
    with pytest.raises(InputError) as err:
        datum.to_cgcs2000(116.4, 39.9, None)  # type: ignore[arg-type]
    assert err.value.code == "unknown_datum"


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (math.nan, 39.9),
        (116.4, math.nan),
        (math.inf, 39.9),
        (116.4, -math.inf),
        (180.0001, 39.9),
        (-181.0, 39.9),
        (116.4, 90.5),
        (116.4, -91.0),
        ("abc", 39.9),
    ],
)
@pytest.mark.parametrize("name", ["wgs84", "gcj02", "bd09", "cgcs2000"])
def test_invalid_coordinates(lon, lat, name):
    with pytest.raises(InputError) as err:
        datum.to_cgcs2000(lon, lat, name)
    assert err.value.code == "invalid_coordinate"


def test_one_bad_point_in_an_array_is_reported_by_index():
    lon = np.array([116.4, 116.5, np.nan])
    lat = np.array([39.9, 39.9, 39.9])
    with pytest.raises(InputError) as err:
        datum.to_cgcs2000(lon, lat, "gcj02")
    assert err.value.code == "invalid_coordinate" and "#2" in err.value.message_en


def test_mismatched_shapes_are_invalid():
    with pytest.raises(InputError) as err:
        datum.to_cgcs2000(np.zeros(3), np.zeros(2), "wgs84")
    assert err.value.code == "invalid_coordinate"


def test_range_edges_are_accepted():
    assert datum.to_cgcs2000(180.0, 90.0, "wgs84") == pytest.approx((180.0, 90.0))
    assert datum.to_cgcs2000(-180.0, -90.0, "gcj02") == (-180.0, -90.0)


def test_non_convergence_raises(monkeypatch):
    monkeypatch.setattr(datum, "MAX_ITERATIONS", 1)
    with pytest.raises(InputError) as err:
        datum.to_cgcs2000(116.41024449916938, 39.91640428150164, "gcj02")
    assert err.value.code == "datum_not_converged"


def test_empty_arrays():
    lon, lat = datum.to_cgcs2000(np.array([]), np.array([]), "bd09")
    assert lon.shape == (0,) and lat.shape == (0,)


def test_the_wgs84_to_cgcs2000_step_is_projs_noop_and_passed_through_without_proj(monkeypatch):
    """PROJ's operation WGS-84 → CGCS2000 moves nothing; while that is its answer the point is passed
    through (no PROJ object per server thread), with PROJ's own result; a real operation still runs."""
    from gis import crs

    lon, lat = np.array([113.3, 113.31]), np.array([23.1, 23.12])
    by_proj = crs.transformer(crs.WGS84, crs.CGCS2000).transform(lon, lat)
    assert crs.is_noop(crs.WGS84, crs.CGCS2000) and crs.is_noop(crs.CGCS2000, crs.WGS84)
    assert not crs.is_noop(crs.CGCS2000, crs.gk_epsg(38))  # a projection is never passed through
    monkeypatch.setattr(crs, "transformer", lambda *_: pytest.fail("PROJ called for its no-op"))
    out = datum.to_cgcs2000(lon, lat, "wgs84")
    np.testing.assert_array_equal(out, by_proj)
    assert datum.to_cgcs2000(113.3, 23.1, "wgs84") == (113.3, 23.1)
    assert out[0] is not lon  # a new array, as PROJ gives


def test_one_point_is_inverted_exactly_as_in_an_array() -> None:
    """A report's single point takes the float path (_POINT): the same answer as the array path."""
    rng = np.random.default_rng(17)
    lon, lat = datum.wgs84_to_gcj02(rng.uniform(73.7, 134.8, 500), rng.uniform(18.2, 53.5, 500))
    wx, wy = datum.gcj02_to_wgs84(lon, lat)
    points = [datum.gcj02_to_wgs84(float(x), float(y)) for x, y in zip(lon, lat)]
    assert all(type(px) is float for px, _ in points)
    assert np.array_equal(np.array(points), np.column_stack([wx, wy]))
