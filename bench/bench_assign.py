"""Benchmark point -> grid assignment: GridIndex (STRtree, vectorised) vs the naive loop.

Run:  .venv/bin/python bench/bench_assign.py [--points N] [--grids N] [--sample N]

The naive loop tests every polygon for every point, so it only runs on a sample; the
ratio compares throughputs (points/s) and both paths must agree on that sample.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gis.assign import OUTSIDE, GridIndex, naive_assign  # noqa: E402

WEST, EAST, SOUTH, NORTH = 113.2, 113.5, 23.0, 23.2  # central Guangzhou


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--points", type=int, default=1_000_000, help="random points for the vectorised path")
    p.add_argument("--grids", type=int, default=1000,
                   help="approximate number of grid polygons (a ~1.6:1 lattice, 1000 -> 40x25)")
    p.add_argument("--sample", type=int, default=5000,
                   help="points (the first N of --points) for the naive loop and the agreement check")
    p.add_argument("--edge-vertices", type=int, default=1,
                   help="split each edge into N segments, to mimic surveyed outlines with many vertices")
    p.add_argument("--seed", type=int, default=20240601, help="random seed (lattice jitter and points)")
    args = p.parse_args(argv)
    if min(args.points, args.grids, args.edge_vertices) < 1 or args.sample < 0:
        p.error("--points, --grids, --edge-vertices must be >= 1 and --sample >= 0")
    args.sample = min(args.sample, args.points)
    return args


def build_lattice(grids: int, edge_vertices: int, rng: np.random.Generator) -> tuple[list[str], list[Polygon]]:
    """Non-overlapping irregular quadrilaterals: jitter the shared lattice vertices (±20 %)."""
    nx = max(1, round(math.sqrt(grids * 1.6)))
    ny = max(1, round(grids / nx))
    xs, ys = np.linspace(WEST, EAST, nx + 1), np.linspace(SOUTH, NORTH, ny + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    gx = gx + rng.uniform(-0.2, 0.2, gx.shape) * (xs[1] - xs[0])
    gy = gy + rng.uniform(-0.2, 0.2, gy.shape) * (ys[1] - ys[0])
    step = min(xs[1] - xs[0], ys[1] - ys[0]) / edge_vertices
    codes, polys = [], []
    for i in range(nx):
        for j in range(ny):
            poly = Polygon([(gx[i, j], gy[i, j]), (gx[i + 1, j], gy[i + 1, j]),
                            (gx[i + 1, j + 1], gy[i + 1, j + 1]), (gx[i, j + 1], gy[i, j + 1])])
            polys.append(shapely.segmentize(poly, step) if edge_vertices > 1 else poly)
            codes.append(f"440104{i:03d}{j:03d}")
    return codes, polys


def machine() -> str:
    return (f"cpus={os.cpu_count()} python={platform.python_version()} "
            f"({platform.machine()}) numpy={np.__version__} shapely={shapely.__version__} "
            f"geos={shapely.geos_version_string}")


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    codes, polys = build_lattice(args.grids, args.edge_vertices, rng)
    lon = rng.uniform(WEST, EAST, args.points)
    lat = rng.uniform(SOUTH, NORTH, args.points)
    vertices = float(np.mean(shapely.get_num_coordinates(polys)))
    print(f"machine        : {machine()}")
    print(f"grids          : {len(codes)} polygons, {vertices:.0f} vertices each on average")
    print(f"points         : {args.points:,} vectorised, {args.sample:,} naive sample")

    index, t_build = timed(GridIndex, codes, polys)
    index.assign(lon[:1000], lat[:1000])  # warm-up
    fast, t_fast = timed(index.assign, lon, lat)
    fast_rate = args.points / t_fast
    print(f"index build    : {t_build * 1e3:.1f} ms")
    print(f"vectorised     : {t_fast:.3f} s for {args.points:,} points = {fast_rate:,.0f} points/s "
          f"({int((fast == OUTSIDE).sum()):,} outside every grid)")

    tree = shapely.STRtree(np.asarray(polys, dtype=object))
    _, t_pred = timed(lambda: tree.query(shapely.points(lon, lat), predicate="intersects"))
    print(f"  (reference)  : STRtree.query(points, predicate='intersects') alone, no tie-break: "
          f"{args.points / t_pred:,.0f} points/s")

    if args.sample == 0:
        return 0
    slow, t_slow = timed(naive_assign, codes, polys, lon[: args.sample], lat[: args.sample])
    slow_rate = args.sample / t_slow
    agree = bool(np.array_equal(slow, fast[: args.sample]))
    print(f"naive loop     : {t_slow:.3f} s for {args.sample:,} points = {slow_rate:,.0f} points/s")
    print(f"speed-up       : {fast_rate / slow_rate:,.0f}x (vectorised / naive points/s)")
    print(f"agreement      : {'IDENTICAL' if agree else 'MISMATCH'} on the {args.sample:,}-point sample")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
