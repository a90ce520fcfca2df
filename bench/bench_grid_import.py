"""Benchmark shapefile import (read_grids) and topology check (check_grids) on a large layer.

Run:  .venv/bin/python bench/bench_grid_import.py [--grids N] [--repeat N] [--naive-sample N]

Writes a lattice of slightly irregular quadrilaterals in a CGCS2000 GK zone (default EPSG:4526,
zone 38 with prefix, around Guangzhou) with Chinese names to a temporary shapefile, plants a
few gaps and overlaps, then times the import and the check separately (best of --repeat) and
measures peak memory in a separate traced run, because tracemalloc slows the code it watches.
Baselines: pyshp's __geo_interface__ + shapely.shape + a transform per grid for the import, and
the all-pairs overlap loop (on a sample, extrapolated) for the check.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pyproj
import shapefile
import shapely
from shapely.geometry import Polygon, shape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gis.crs import CGCS2000, area_m2, gk_zone_of_epsg, transform, transformer  # noqa: E402
from gis.prj import prj_for_epsg  # noqa: E402
from gis.shapefile_io import read_grids  # noqa: E402
from gis.topology import CheckInput, check_grids  # noqa: E402

CENTRE_LON, CENTRE_LAT = 113.45, 23.10  # Huangpu, Guangzhou
PER_COMMUNITY = 500  # grids per community (serials stop at 999)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--grids", type=int, default=10_000, help="number of grids (a ~square lattice)")
    p.add_argument("--cell", type=float, default=200.0, help="lattice spacing in metres")
    p.add_argument("--jitter", type=float, default=0.2, help="vertex jitter as a fraction of --cell")
    p.add_argument("--epsg", type=int, default=4526, help="source CRS: a CGCS2000 GK zone, 4513-4554")
    p.add_argument("--defects", type=int, default=10, help="planted defects: half gaps, half overlaps")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each phase; the best counts")
    p.add_argument("--naive-sample", type=int, default=400,
                   help="grids for the all-pairs overlap baseline (0: skip both baselines)")
    p.add_argument("--keep", type=Path, help="write the shapefile here and keep it")
    p.add_argument("--seed", type=int, default=20240601, help="random seed for jitter and defects")
    args = p.parse_args(argv)
    if args.grids < 1 or args.repeat < 1 or args.cell <= 0 or not 0 <= args.jitter < 0.5:
        p.error("--grids and --repeat must be >= 1, --cell > 0, 0 <= --jitter < 0.5")
    if gk_zone_of_epsg(args.epsg) is None:
        p.error("--epsg must be a CGCS2000 3-degree GK zone (4513-4554)")
    return args


def build_lattice(args: argparse.Namespace, rng: np.random.Generator) -> list[Polygon]:
    """Quadrilaterals sharing jittered vertices, so the lattice tiles without gaps or overlaps."""
    nx = math.ceil(math.sqrt(args.grids))
    ny = math.ceil(args.grids / nx)
    x0, y0 = transformer(CGCS2000, args.epsg).transform(CENTRE_LON, CENTRE_LAT)
    gx, gy = np.meshgrid(x0 + args.cell * (np.arange(nx + 1) - nx / 2),
                         y0 + args.cell * (np.arange(ny + 1) - ny / 2), indexing="ij")
    gx = gx + rng.uniform(-args.jitter, args.jitter, gx.shape) * args.cell
    gy = gy + rng.uniform(-args.jitter, args.jitter, gy.shape) * args.cell
    polys = []
    for k in range(args.grids):
        i, j = k % nx, k // nx
        # clockwise, as shapefile outer rings are
        polys.append(Polygon([(gx[i, j], gy[i, j]), (gx[i, j + 1], gy[i, j + 1]),
                              (gx[i + 1, j + 1], gy[i + 1, j + 1]), (gx[i + 1, j], gy[i + 1, j])]))
    return polys


def code_of(k: int) -> tuple[str, str]:
    """(grid code, community code): 500 grids per community, 999 communities per street."""
    community = k // PER_COMMUNITY
    street, serial = community // 999 + 1, community % 999 + 1
    comm = f"440112{street:03d}{serial:03d}"
    return f"{comm}{k % PER_COMMUNITY + 1:03d}", comm


def plant_defects(
    polys: list[Polygon], args: argparse.Namespace, rng: np.random.Generator
) -> tuple[set[int], list[int]]:
    """Drop some grids (gaps) and push one vertex of others outwards (overlaps)."""
    picks = [int(k) for k in rng.choice(len(polys), size=min(args.defects, len(polys)), replace=False)]
    dropped, pushed = set(picks[: len(picks) // 2]), picks[len(picks) // 2:]
    for k in pushed:
        ring = np.asarray(polys[k].exterior.coords)
        centre = ring[:-1].mean(axis=0)
        ring[0] += (ring[0] - centre) * 0.3
        ring[-1] = ring[0]
        polys[k] = Polygon(ring)
    return dropped, pushed


def write_layer(folder: Path, polys: list[Polygon], dropped: set[int], epsg: int) -> Path:
    base = folder / "grids_bench"
    with shapefile.Writer(base, shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        for name, size in (("code", 15), ("name", 60), ("community", 12), ("type", 20)):
            w.field(name, "C", size)
        for k, poly in enumerate(polys):
            if k in dropped:
                continue
            code, comm = code_of(k)
            w.poly([list(poly.exterior.coords)])
            w.record(code, f"黄埔区第{k + 1}号网格", comm, "综合网格")
    base.with_suffix(".prj").write_text(prj_for_epsg(epsg))
    base.with_suffix(".cpg").write_text("UTF-8")
    return base.with_suffix(".shp")


def boundaries(polys: list[Polygon], epsg: int) -> dict[str, object]:
    """Community outlines from the intact lattice (before defects), in EPSG:4490."""
    groups: dict[str, list[Polygon]] = {}
    for k, poly in enumerate(polys):
        groups.setdefault(code_of(k)[1], []).append(poly)
    return {c: transform(shapely.union_all(g), epsg, CGCS2000) for c, g in groups.items()}


def best_of(repeat: int, fn, *args, **kwargs):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return out, min(times)


def traced_peak(fn, *args, **kwargs) -> float:
    tracemalloc.start()
    try:
        fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{cpu}, cpus={os.cpu_count()}, {platform.system()} {platform.release()}, "
            f"python={platform.python_version()}, numpy={np.__version__}, "
            f"shapely={shapely.__version__} (GEOS {shapely.geos_version_string}), "
            f"pyproj={pyproj.__version__} (PROJ {pyproj.proj_version_str}), pyshp={shapefile.__version__}")


def naive_import(path: Path, epsg: int) -> list[object]:
    """The obvious way: one shapely.shape and one transform per record."""
    with shapefile.Reader(str(path)) as r:
        return [transform(shape(s.__geo_interface__), epsg, CGCS2000) for s in r.iterShapes()]


def naive_overlaps(inputs: list[CheckInput], tolerance: float = 1.0) -> set[tuple[str, ...]]:
    """Every pair tested: what check_grids replaces with one STRtree bulk query."""
    found = set()
    for a in range(len(inputs)):
        for b in range(a + 1, len(inputs)):
            ga, gb = inputs[a].geometry_4490, inputs[b].geometry_4490
            if ga.intersects(gb):
                shared = ga.intersection(gb)
                if shared.area > 0 and area_m2(shared) > tolerance:
                    found.add(tuple(sorted((inputs[a].code, inputs[b].code))))
    return found


def run_baselines(
    args, path: Path, inputs: list[CheckInput], around: int, t_read: float, t_check: float
) -> None:
    """Naive import on the whole layer; all-pairs overlaps on a block of rows around a defect."""
    geoms, t_naive = best_of(1, naive_import, path, args.epsg)
    print(f"naive import   : {t_naive:.3f} s = {len(geoms) / t_naive:,.0f} records/s "
          f"(read_grids is {t_naive / t_read:.1f}x faster)")
    centre = next((i for i, g in enumerate(inputs) if g.code == code_of(around)[0]), 0)
    start = max(0, centre - args.naive_sample // 2)
    sample = inputs[start: start + args.naive_sample]
    pairs, t_pairs = best_of(1, naive_overlaps, sample)
    n_pairs = len(sample) * (len(sample) - 1) / 2
    full = t_pairs / n_pairs * len(inputs) * (len(inputs) - 1) / 2
    fast = {f.grid_codes for f in check_grids(sample) if f.kind == "overlap"}
    print(f"naive overlaps : {t_pairs:.3f} s for {len(sample)} grids ({n_pairs:,.0f} pairs); "
          f"extrapolated to {len(inputs):,} grids: {full:,.0f} s (check_grids, all checks: {t_check:.2f} s)")
    print(f"agreement      : {'IDENTICAL' if pairs == fast else 'MISMATCH'} overlap pairs on the sample "
          f"({len(pairs)} pairs)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    polys = build_lattice(args, rng)
    outlines = boundaries(polys, args.epsg)
    dropped, pushed = plant_defects(polys, args, rng)
    with tempfile.TemporaryDirectory(prefix="gridops-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = write_layer(folder, polys, dropped, args.epsg)
        size_mb = sum(p.stat().st_size for p in folder.glob("grids_bench.*")) / 2**20
        print(f"machine        : {machine()}")
        print(f"layer          : {len(polys) - len(dropped):,} grids, EPSG:{args.epsg}, {size_mb:.1f} MiB, "
              f"{len(outlines)} communities, {args.defects} planted defects")

        rss = [max_rss_mib()]
        result, t_read = best_of(args.repeat, read_grids, path)
        rss.append(max_rss_mib())
        n = len(result.features)
        inputs = [CheckInput(f.code, f.geometry, f.community_code) for f in result.features]
        findings, t_check = best_of(args.repeat, check_grids, inputs, community_boundaries=outlines)
        rss.append(max_rss_mib())
        print(f"read_grids     : {t_read:.3f} s = {n / t_read:,.0f} records/s (best of {args.repeat})")
        print(f"check_grids    : {t_check:.3f} s = {n / t_check:,.0f} grids/s "
              f"(findings: {dict(Counter(f.kind for f in findings)) or 'none'})")
        peak_read = traced_peak(read_grids, path)
        peak_check = traced_peak(check_grids, inputs, community_boundaries=outlines)
        print(f"peak memory    : tracemalloc peak read_grids {peak_read:.1f} MiB, check_grids "
              f"{peak_check:.1f} MiB (Python allocations only; GEOS/PROJ memory is not traced)")
        print(f"max RSS        : {rss[0]:.0f} MiB after setup, {rss[1]:.0f} MiB after read_grids, "
              f"{rss[2]:.0f} MiB after check_grids, {max_rss_mib():.0f} MiB at the end")
        if args.naive_sample:
            run_baselines(args, path, inputs, pushed[0] if pushed else 0, t_read, t_check)
        if args.keep:
            print(f"kept           : {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
