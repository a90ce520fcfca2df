"""Tests for gis.assign: borders, tie-break, holes, multipolygons, and naive == vectorised."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from common.errors import InputError
from gis.assign import OUTSIDE, GridIndex, naive_assign

# 2x2 unit squares; codes deliberately not in positional order.
#   (0..1, 1..2) "D"   (1..2, 1..2) "A"
#   (0..1, 0..1) "C"   (1..2, 0..1) "B"
SQUARES = {"C": box(0, 0, 1, 1), "B": box(1, 0, 2, 1), "D": box(0, 1, 1, 2), "A": box(1, 1, 2, 2)}


def _index(layout: dict[str, Polygon | MultiPolygon], order: list[str] | None = None) -> GridIndex:
    codes = order or list(layout)
    return GridIndex(codes, [layout[c] for c in codes])


def _both(layout, lon, lat, order=None) -> tuple[list, list]:
    """Codes from the vectorised path and from the naive oracle, for the same input."""
    codes = order or list(layout)
    polys = [layout[c] for c in codes]
    fast = GridIndex(codes, polys).assign_codes(np.asarray(lon, float), np.asarray(lat, float))
    slow = naive_assign(codes, polys, np.asarray(lon, float), np.asarray(lat, float))
    return list(fast), [codes[i] if i != OUTSIDE else None for i in slow]


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (0.5, 0.5, "C"),
        (1.5, 0.5, "B"),
        (0.5, 1.5, "D"),
        (1.5, 1.5, "A"),
        (0.0, 0.5, "C"),  # outer boundary of one grid still belongs to it
        (2.0, 2.0, "A"),  # outer corner
        (1.0, 0.5, "B"),  # shared edge C|B -> smaller code
        (0.5, 1.0, "C"),  # shared edge C|D
        (1.5, 1.0, "A"),  # shared edge B|A
        (1.0, 1.5, "A"),  # shared edge D|A
        (1.0, 1.0, "A"),  # vertex shared by all four
        (1.0, 0.0, "B"),  # vertex shared by C and B on the outer edge
        (2.5, 0.5, None),
        (-1e-9, 0.5, None),
        (100.0, 100.0, None),
    ],
)
def test_squares(lon, lat, expected):
    fast, slow = _both(SQUARES, [lon], [lat])
    assert fast == slow == [expected]
    assert _index(SQUARES).assign_one(lon, lat) == expected


@pytest.mark.parametrize(
    "order",
    [["A", "B", "C", "D"], ["D", "C", "B", "A"], ["C", "A", "D", "B"], ["B", "D", "A", "C"]],
)
def test_tie_break_is_independent_of_input_order(order):
    lon = [1.0, 0.5, 1.5, 1.0, 1.0, 0.5]
    lat = [0.5, 1.0, 1.0, 1.5, 1.0, 0.5]
    fast, slow = _both(SQUARES, lon, lat, order)
    assert fast == slow == ["B", "C", "A", "A", "A", "C"]


def test_assign_returns_index_into_the_given_codes():
    order = ["D", "C", "B", "A"]
    gi = _index(SQUARES, order)
    idx = gi.assign(np.array([0.5, 1.0, 5.0]), np.array([0.5, 1.0, 5.0]))
    assert idx.dtype == np.int64
    assert idx.tolist() == [order.index("C"), order.index("A"), OUTSIDE]


def test_tie_break_uses_string_order_not_numeric():
    layout = {"440106-10": box(0, 0, 1, 1), "440106-9": box(1, 0, 2, 1)}
    assert _index(layout).assign_one(1.0, 0.5) == "440106-10"


DONUT = Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (0.5, 0.5, "G2"),
        (2.0, 2.0, None),  # in the hole
        (1.0, 2.0, "G2"),  # on the hole's ring: boundary of the donut
        (3.5, 3.5, "G2"),
    ],
)
def test_hole_without_island(lon, lat, expected):
    fast, slow = _both({"G2": DONUT}, [lon], [lat])
    assert fast == slow == [expected]


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (2.0, 2.0, "G3"),  # island fills the hole
        (1.0, 2.0, "G2"),  # shared ring: smaller code wins
        (0.5, 0.5, "G2"),
    ],
)
def test_hole_filled_by_island_grid(lon, lat, expected):
    layout = {"G3": box(1, 1, 3, 3), "G2": DONUT}
    fast, slow = _both(layout, [lon], [lat])
    assert fast == slow == [expected]


MULTI = MultiPolygon([box(0, 0, 1, 1), box(5, 5, 6, 6)])


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [(0.5, 0.5, "M"), (5.5, 5.5, "M"), (3.0, 3.0, "X"), (1.0, 0.5, "M"), (8.0, 8.0, None)],
)
def test_multipolygon(lon, lat, expected):
    layout = {"M": MULTI, "X": box(1, 0, 5, 6)}
    fast, slow = _both(layout, [lon], [lat])
    assert fast == slow == [expected]


def test_empty_points():
    gi = _index(SQUARES)
    out = gi.assign(np.array([]), np.array([]))
    assert out.shape == (0,) and out.dtype == np.int64
    assert gi.assign_codes(np.array([]), np.array([])).shape == (0,)


def test_no_grids():
    gi = GridIndex([], [])
    assert len(gi) == 0
    assert gi.assign(np.array([0.5, 1.0]), np.array([0.5, 1.0])).tolist() == [OUTSIDE, OUTSIDE]
    assert gi.assign_one(0.5, 0.5) is None


def test_non_finite_points_are_outside():
    gi = _index(SQUARES)
    lon = np.array([np.nan, np.inf, 0.5, 0.5])
    lat = np.array([0.5, 0.5, -np.inf, 0.5])
    assert gi.assign_codes(lon, lat).tolist() == [None, None, None, "C"]


def test_caller_geometries_are_not_prepared():
    polys = [box(0, 0, 1, 1)]
    GridIndex(["A"], polys)
    assert not shapely.is_prepared(polys[0])


@pytest.mark.parametrize(
    ("codes", "polys", "code"),
    [
        (["A", "B"], [box(0, 0, 1, 1)], "grid_mismatch"),
        (["A", "A"], [box(0, 0, 1, 1), box(1, 0, 2, 1)], "duplicate_grid_code"),
        (["A"], [Point(0, 0)], "invalid_geometry"),
        (["A"], [box(0, 0, 1, 1).boundary], "invalid_geometry"),
        (["A"], [Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])], "invalid_geometry"),  # bow-tie
    ],
)
def test_bad_grids_are_refused(codes, polys, code):
    for build in (lambda: GridIndex(codes, polys), lambda: naive_assign(codes, polys, [0.0], [0.0])):
        with pytest.raises(InputError) as err:
            build()
        assert err.value.code == code


def _lattice(nx: int, ny: int, seed: int) -> tuple[list[str], list[Polygon], np.ndarray, np.ndarray]:
    """Irregular quadrilateral tiling: jittered shared vertices, so no gaps or overlaps."""
    rng = np.random.default_rng(seed)
    xs, ys = np.linspace(113.2, 113.5, nx + 1), np.linspace(23.0, 23.2, ny + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    gx = gx + rng.uniform(-0.2, 0.2, gx.shape) * (xs[1] - xs[0])
    gy = gy + rng.uniform(-0.2, 0.2, gy.shape) * (ys[1] - ys[0])
    codes, polys = [], []
    for i in range(nx):
        for j in range(ny):
            ring = [(gx[i, j], gy[i, j]), (gx[i + 1, j], gy[i + 1, j]),
                    (gx[i + 1, j + 1], gy[i + 1, j + 1]), (gx[i, j + 1], gy[i, j + 1])]
            codes.append(f"4401{rng.integers(0, 10**6):06d}-{i:02d}{j:02d}")
            polys.append(Polygon(ring))
    return codes, polys, gx.ravel(), gy.ravel()


def test_vectorised_equals_naive_on_random_points():
    codes, polys, vx, vy = _lattice(12, 8, seed=7)
    rng = np.random.default_rng(11)
    n = 3000
    lon = np.concatenate([rng.uniform(113.15, 113.55, n), vx])  # incl. outside and
    lat = np.concatenate([rng.uniform(22.95, 23.25, n), vy])  # every shared vertex
    fast = GridIndex(codes, polys).assign(lon, lat)
    slow = naive_assign(codes, polys, lon, lat)
    np.testing.assert_array_equal(fast, slow)
    assert (fast == OUTSIDE).any() and (fast != OUTSIDE).sum() > n // 2


def test_random_result_is_independent_of_input_order():
    codes, polys, vx, vy = _lattice(6, 5, seed=3)
    rng = np.random.default_rng(5)
    lon = np.concatenate([rng.uniform(113.2, 113.5, 1000), vx])
    lat = np.concatenate([rng.uniform(23.0, 23.2, 1000), vy])
    perm = rng.permutation(len(codes))
    a = GridIndex(codes, polys).assign_codes(lon, lat)
    b = GridIndex([codes[i] for i in perm], [polys[i] for i in perm]).assign_codes(lon, lat)
    assert a.tolist() == b.tolist()


def test_every_shared_interior_vertex_goes_to_smallest_touching_code():
    codes, polys, vx, vy = _lattice(5, 4, seed=1)
    got = GridIndex(codes, polys).assign_codes(vx, vy)
    for x, y, code in zip(vx, vy, got):
        touching = [c for c, p in zip(codes, polys) if p.intersects(Point(x, y))]
        assert code == min(touching)


def test_min_rank_handles_unsorted_pairs():
    from gis.assign import _min_rank_per_point

    got = _min_rank_per_point(np.array([2, 0, 2, 0, 3]), np.array([5, 3, 1, 4, 0]), 5)
    assert got.tolist() == [3, OUTSIDE, 1, 0, OUTSIDE]


def test_mismatched_point_arrays_are_refused():
    with pytest.raises(InputError) as err:
        _index(SQUARES).assign(np.zeros(3), np.zeros(2))
    assert err.value.code == "invalid_coordinate"
