"""Point -> grid assignment for batches of event/patrol positions.

Tie-break rule (shared by the vectorised and the naive path): a point that touches
several grids — on a shared edge or a vertex shared by up to four grids — goes to the
grid whose code is lexicographically smallest (Python ``str`` ordering). Why codes and
not list position: the order in which grids are imported or loaded from the database
is not stable, while the codes (行政区划代码 + 网格序号) are, so the same point lands in
the same grid after every re-import and on every server.

Points in no grid (including points in a polygon's hole, and NaN/inf coordinates,
which intersect nothing) get index -1 / code None.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from common.errors import InputError
from gis.datum import coordinate_arrays

OUTSIDE = -1


def _check_grids(codes: Sequence[str], polygons: Sequence[Polygon | MultiPolygon]) -> None:
    """Refuse inputs that would make the answer ambiguous or meaningless."""
    if len(codes) != len(polygons):
        raise InputError(
            "grid_mismatch",
            f"网格编码数（{len(codes)}）与面数（{len(polygons)}）不一致",
            f"{len(codes)} grid codes but {len(polygons)} polygons",
        )
    if len(set(codes)) != len(codes):
        dup = sorted(c for c, n in Counter(codes).items() if n > 1)[:5]
        raise InputError("duplicate_grid_code", f"网格编码重复：{dup}", f"duplicate grid codes: {dup}")
    for code, poly in zip(codes, polygons):
        if not isinstance(poly, (Polygon, MultiPolygon)):
            kind = type(poly).__name__
            raise InputError(
                "invalid_geometry",
                f"网格 {code} 的几何不是面（{kind}）",
                f"grid {code} geometry is not a (multi)polygon ({kind})",
            )
        if not poly.is_valid:
            raise InputError(
                "invalid_geometry",
                f"网格 {code} 的几何无效：{shapely.is_valid_reason(poly)}",
                f"grid {code} geometry is invalid: {shapely.is_valid_reason(poly)}",
            )


def _xy(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    x, y, _ = coordinate_arrays(lon, lat)
    return x.ravel(), y.ravel()


def _min_rank_per_point(pt: np.ndarray, rank: np.ndarray, n_points: int) -> np.ndarray:
    """For (point, rank) hit pairs, the smallest rank per point, -1 where no hit.

    Groups the pairs by point and takes ``np.minimum.reduceat`` over each run: O(k) for
    k hits. STRtree.query already returns pairs in input order, but that is not a
    documented guarantee, so an unsorted result is grouped with a stable argsort first.
    """
    best = np.full(n_points, OUTSIDE, dtype=np.int64)
    if pt.size == 0:
        return best
    if np.any(pt[1:] < pt[:-1]):
        order = np.argsort(pt, kind="stable")
        pt, rank = pt[order], rank[order]
    starts = np.flatnonzero(np.concatenate(([True], pt[1:] != pt[:-1])))
    best[pt[starts]] = np.minimum.reduceat(rank, starts)
    return best


class GridIndex:
    """STRtree over grid polygons, built once per grid layer and reused for every batch.

    The tree stores the polygons sorted by code, so a tree index *is* the tie-break
    rank and the smallest hit index per point is the winning grid.
    """

    def __init__(self, codes: Sequence[str], polygons: Sequence[Polygon | MultiPolygon]) -> None:
        _check_grids(codes, polygons)
        self.codes: tuple[str, ...] = tuple(codes)
        self._by_code = np.array(sorted(range(len(codes)), key=self.codes.__getitem__), dtype=np.int64)
        # Copies, so prepare() does not mutate (and speed up) the caller's geometries.
        geoms = np.empty(len(polygons), dtype=object)
        geoms[:] = list(polygons)
        geoms = geoms[self._by_code]
        self._geoms = shapely.from_wkb(shapely.to_wkb(geoms)) if geoms.size else geoms
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        # Trailing None, so OUTSIDE (-1) indexes to None in assign_codes.
        self._codes_arr = np.array(self.codes + (None,), dtype=object)

    def __len__(self) -> int:
        return len(self.codes)

    def assign(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index into ``codes`` of the grid holding each point, -1 if none (int64, flat).

        Bulk steps, no per-point Python: the STRtree bounding-box query, then one
        vectorised ``shapely.intersects_xy`` on the candidate (prepared polygon, x, y)
        pairs, then the per-point minimum code rank. ``tree.query(points,
        predicate="intersects")`` gives the same pairs, but GEOS then prepares the
        *point* and walks the unprepared polygon: about as fast for 4-vertex quads, but
        ~2x slower at ~100 vertices per grid and ~3.5x at ~400, which is what surveyed
        outlines look like (bench/bench_assign.py --edge-vertices 25/100).
        """
        x, y = _xy(lon, lat)
        pt, rank = self._tree.query(shapely.points(x, y))
        if pt.size:
            hit = shapely.intersects_xy(self._geoms[rank], x[pt], y[pt])
            pt, rank = pt[hit], rank[hit]
        best = _min_rank_per_point(pt, rank, x.size)
        inside = best != OUTSIDE
        best[inside] = self._by_code[best[inside]]
        return best

    def assign_codes(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Like ``assign`` but grid codes (object array, None for outside)."""
        return self._codes_arr[self.assign(lon, lat)]

    def assign_one(self, lon: float, lat: float) -> str | None:
        """Convenience for a single reported position."""
        return self.assign_codes(np.array([lon]), np.array([lat]))[0]


def naive_assign(
    codes: Sequence[str],
    polygons: Sequence[Polygon | MultiPolygon],
    lon: np.ndarray,
    lat: np.ndarray,
) -> np.ndarray:
    """Per-point, per-polygon ``polygon.intersects(Point)`` loop with the same tie-break.

    Deliberately simple: it is the benchmark baseline and the test oracle for
    ``GridIndex.assign`` (same return convention: index into ``codes`` or -1).
    """
    _check_grids(codes, polygons)
    x, y = _xy(lon, lat)
    out = np.full(x.size, OUTSIDE, dtype=np.int64)
    for i, (px, py) in enumerate(zip(x.tolist(), y.tolist())):
        point = Point(px, py)
        best: int = OUTSIDE
        for j, poly in enumerate(polygons):
            if poly.intersects(point) and (best == OUTSIDE or codes[j] < codes[best]):
                best = j
        out[i] = best
    return out
