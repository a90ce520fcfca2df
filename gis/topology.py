"""Topology check of a grid layer: the defects that make grid statistics wrong.

Grids must tile each community without overlaps (an event would count twice) or gaps (an
address would belong to no grid worker). The check only reports: it never edits geometry,
because the street office has to fix the drawing and sign it off. Areas are m² in the
geometry's own Gauss-Krüger zone (gis.crs.area_m2), the unit surveyors quote.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from common.errors import InputError
from gis.codes import CodeProblem, community_claimed, community_code_problem, grid_code_problem
from gis.crs import area_m2

KIND_ORDER = (
    "duplicate_code", "malformed_code", "invalid_ring", "self_intersection",
    "overlap", "gap", "outside_community",
)
LABELS_ZH = {
    "duplicate_code": "编码重复",
    "malformed_code": "编码不规范",
    "invalid_ring": "无效环",
    "self_intersection": "几何自相交/无效",
    "overlap": "网格重叠",
    "gap": "网格缝隙",
    "outside_community": "超出社区边界",
}
# Rings below ~1 mm² (in degrees², at China's latitudes) are degenerate, not tiny grids.
ZERO_AREA_DEG2 = 1e-16
NEAR_DEG = 1e-6  # ~0.1 m: grids this close to a gap are the ones to fix


@dataclass(frozen=True)
class CheckInput:
    code: str
    geometry_4490: Polygon | MultiPolygon
    community_code: str | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    grid_codes: tuple[str, ...]
    area_m2: float | None
    detail: str


def _area(geom: BaseGeometry) -> float:
    """GK area; zero-area or empty results have no meaningful centroid to pick a zone by."""
    if geom is None or geom.is_empty or geom.area == 0:
        return 0.0
    return area_m2(geom)


def _grid_code_problem(g: CheckInput) -> CodeProblem | None:
    problem = grid_code_problem(g.code, g.community_code)
    if problem is None and g.community_code is not None:
        problem = community_code_problem(g.community_code)
    return problem


def _code_findings(grids: Sequence[CheckInput],
                   code_problem: Callable[[CheckInput], CodeProblem | None] = _grid_code_problem) -> list[Finding]:
    found = []
    rows: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grids):
        rows[g.code].append(i + 1)
    for code, where in rows.items():
        if len(where) > 1:
            rows_txt = ", ".join(map(str, where))
            found.append(Finding("duplicate_code", (code,), None,
                                 f"编码出现{len(where)}次（第{rows_txt}条）；appears {len(where)} times "
                                 f"(rows {rows_txt})"))
    for g in grids:
        if (problem := code_problem(g)) is not None:
            found.append(Finding("malformed_code", (g.code,), None, f"{problem.zh}；{problem}"))
    return found


def _ring_findings(grids: Sequence[CheckInput], geoms: np.ndarray) -> list[Finding]:
    """Rings with < 4 points, unclosed or of zero area, all rings of all grids at once."""
    rings, owner = shapely.get_rings(geoms, return_index=True)
    issues: dict[int, list[str]] = defaultdict(list)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty or not isinstance(g, (Polygon, MultiPolygon)):
            issues[i].append(f"没有面几何；not a non-empty polygon ({getattr(g, 'geom_type', None)})")
    if len(rings):
        counts = shapely.get_num_coordinates(rings)
        xy = shapely.get_coordinates(rings)
        starts = np.cumsum(counts) - counts
        last = starts + counts - 1
        closed = np.all(xy[starts] == xy[last], axis=1)
        rel = xy - np.repeat(xy[starts], counts, axis=0)  # shoelace near 0 avoids cancellation
        nxt = np.arange(len(xy)) + 1
        nxt[last] = starts
        cross = rel[:, 0] * rel[nxt, 1] - rel[nxt, 0] * rel[:, 1]
        area = np.abs(np.add.reduceat(cross, starts)) / 2
        ring_no = np.arange(len(rings)) - np.searchsorted(owner, owner)  # 0-based within grid
        for k in np.flatnonzero((counts < 4) | ~closed | (area <= ZERO_AREA_DEG2)):
            if counts[k] < 4:
                zh, en = f"只有{counts[k]}个点", f"has {counts[k]} points"
            elif not closed[k]:
                zh, en = "未闭合", "is not closed"
            else:
                zh, en = "面积为零", "has zero area"
            n = ring_no[k] + 1
            issues[int(owner[k])].append(f"第{n}个环{zh}；ring {n} {en}")
    return [Finding("invalid_ring", (grids[i].code,), None, " | ".join(msgs)) for i, msgs in issues.items()]


def _validity_findings(grids: Sequence[CheckInput], geoms: np.ndarray) -> tuple[list[Finding], np.ndarray]:
    """GEOS validity per grid, plus the mask of grids fit for overlay (valid polygons)."""
    polygonal = np.array([isinstance(g, (Polygon, MultiPolygon)) and not g.is_empty for g in geoms],
                         dtype=bool)
    valid = polygonal & shapely.is_valid(geoms)
    found = []
    for i in np.flatnonzero(polygonal & ~valid):
        reason = shapely.is_valid_reason(geoms[i])
        if reason.startswith("Too few points"):
            continue  # already an invalid_ring finding
        found.append(Finding("self_intersection", (grids[i].code,), None,
                             f"几何无效，未参与重叠/缝隙检查；{reason} (excluded from overlap/gap checks)"))
    return found, valid


def _overlap_findings(
    grids: Sequence[CheckInput], geoms: np.ndarray, usable: np.ndarray, tolerance: float
) -> list[Finding]:
    """Pairs whose interiors meet, from one bulk STRtree query; shared edges are not overlaps."""
    idx = np.flatnonzero(usable)
    if len(idx) < 2:
        return []
    tree = shapely.STRtree(geoms[idx])
    left, right = tree.query(geoms[idx], predicate="intersects")
    keep = left < right
    a, b = idx[left[keep]], idx[right[keep]]
    interior = shapely.relate_pattern(geoms[a], geoms[b], "T********")
    a, b = a[interior], b[interior]
    found = []
    for i, j, shared in zip(a, b, shapely.intersection(geoms[a], geoms[b])):
        area = _area(shared)
        if area > tolerance:
            codes = tuple(sorted((grids[i].code, grids[j].code)))
            found.append(Finding("overlap", codes, area,
                                 f"重叠{area:.2f}平方米；overlap of {area:.2f} m²"))
    return found


def _community_members(
    grids: Sequence[CheckInput], usable: np.ndarray, boundaries: Mapping[str, BaseGeometry]
) -> dict[str, list[int]]:
    members: dict[str, list[int]] = {c: [] for c in boundaries}
    for i, g in enumerate(grids):
        comm = community_claimed(g.code, g.community_code)
        if usable[i] and comm in members:
            members[comm].append(i)
    return members


def _check_boundary(comm: str, boundary: BaseGeometry) -> None:
    if not isinstance(boundary, (Polygon, MultiPolygon)) or not boundary.is_valid:
        reason = shapely.is_valid_reason(boundary) if boundary is not None else "missing"
        raise InputError(
            "invalid_boundary",
            f"社区{comm}的边界不是有效的面（{reason}），无法检查缝隙",
            f"boundary of community {comm} is not a valid polygon ({reason}); cannot check gaps",
        )


def _gap_findings(
    grids: Sequence[CheckInput],
    geoms: np.ndarray,
    members: dict[str, list[int]],
    boundaries: Mapping[str, BaseGeometry],
    tolerance: float,
) -> list[Finding]:
    """Each piece of a community not covered by its grids, with the grids around it."""
    tree = shapely.STRtree(geoms)
    found = []
    for comm in sorted(boundaries):
        covered = shapely.union_all(geoms[members[comm]]) if members[comm] else Polygon()
        for part in shapely.get_parts(boundaries[comm].difference(covered)):
            if not isinstance(part, Polygon):
                continue
            area = _area(part)
            if area <= tolerance:
                continue
            near = tree.query(part, predicate="dwithin", distance=NEAR_DEG)
            codes = tuple(sorted({grids[k].code for k in near}))
            pt = part.representative_point()
            found.append(Finding(
                "gap", codes, area,
                f"社区{comm}内有{area:.2f}平方米未被网格覆盖（约{pt.x:.6f},{pt.y:.6f}）；"
                f"{area:.2f} m² of community {comm} not covered by any grid, near {pt.x:.6f},{pt.y:.6f}",
            ))
    return found


def _outside_findings(
    grids: Sequence[CheckInput],
    geoms: np.ndarray,
    members: dict[str, list[int]],
    boundaries: Mapping[str, BaseGeometry],
    tolerance: float,
) -> list[Finding]:
    """Grid area spilling over its own community's boundary (into a neighbour's territory)."""
    found = []
    for comm in sorted(boundaries):
        idx = np.asarray(members[comm], dtype=int)
        boundary = boundaries[comm]
        shapely.prepare(boundary)  # makes covers() cheap; difference only for the few that spill
        idx = idx[~shapely.covers(boundary, geoms[idx])] if len(idx) else idx
        outside = shapely.difference(geoms[idx], boundary)
        for i, part in zip(idx, outside):
            area = _area(part)
            if area > tolerance:
                found.append(Finding(
                    "outside_community", (grids[i].code,), area,
                    f"有{area:.2f}平方米超出社区{comm}边界；{area:.2f} m² lies outside community {comm}",
                ))
    return found


def _sort_key(f: Finding) -> tuple[int, tuple[str, ...], float, str]:
    return (KIND_ORDER.index(f.kind), f.grid_codes, -(f.area_m2 or 0.0), f.detail)


def check_grids(
    grids: Sequence[CheckInput],
    *,
    community_boundaries: Mapping[str, Polygon | MultiPolygon] | None = None,
    overlap_tolerance_m2: float = 1.0,
    gap_tolerance_m2: float = 1.0,
) -> list[Finding]:
    """All findings, sorted by kind then grid codes; geometry is only read, never changed.

    Invalid grids are reported and left out of the overlap, gap and outside checks, whose
    overlay operations are meaningless (or fail) on invalid input, so until an invalid grid is
    fixed its footprint also shows up as a gap. Gaps and spill-over are
    only checked for communities listed in ``community_boundaries``; spill-over uses the
    overlap tolerance, since it is an overlap with the neighbouring community.
    """
    geoms = np.array([g.geometry_4490 for g in grids], dtype=object)
    findings = _code_findings(grids) + _ring_findings(grids, geoms)
    validity, usable = _validity_findings(grids, geoms)
    findings += validity
    findings += _overlap_findings(grids, geoms, usable, overlap_tolerance_m2)
    if community_boundaries:
        for comm, boundary in community_boundaries.items():
            _check_boundary(comm, boundary)
        members = _community_members(grids, usable, community_boundaries)
        findings += _gap_findings(grids, geoms, members, community_boundaries, gap_tolerance_m2)
        findings += _outside_findings(grids, geoms, members, community_boundaries, overlap_tolerance_m2)
    return sorted(findings, key=_sort_key)


def check_boundaries(areas: Sequence[CheckInput], *, overlap_tolerance_m2: float = 1.0) -> list[Finding]:
    """Community boundaries (``CheckInput.code`` a community code): duplicate or malformed codes,
    invalid rings, invalid polygons and overlaps between communities, as for grids."""
    geoms = np.array([a.geometry_4490 for a in areas], dtype=object)
    findings = _code_findings(areas, lambda a: community_code_problem(a.code)) + _ring_findings(areas, geoms)
    validity, usable = _validity_findings(areas, geoms)
    findings += validity + _overlap_findings(areas, geoms, usable, overlap_tolerance_m2)
    return sorted(findings, key=_sort_key)


def _summary(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.kind for f in findings)
    return {k: counts[k] for k in KIND_ORDER if counts[k]}


def report_text(findings: Sequence[Finding]) -> str:
    """One line per finding for the street office, then a summary line."""
    lines = []
    for f in sorted(findings, key=_sort_key):
        area = "" if f.area_m2 is None else f" {f.area_m2:.2f} m²"
        codes = ", ".join(f.grid_codes) or "-"
        lines.append(f"[{LABELS_ZH.get(f.kind, f.kind)} {f.kind}] {codes}{area}: {f.detail}")
    summary = _summary(findings)
    if not summary:
        lines.append("拓扑检查通过，未发现问题 / no findings")
    else:
        zh = "，".join(f"{LABELS_ZH[k]}{n}" for k, n in summary.items())
        en = ", ".join(f"{k} {n}" for k, n in summary.items())
        lines.append(f"共{len(findings)}项问题：{zh} / {len(findings)} findings: {en}")
    return "\n".join(lines)


def report_json(findings: Sequence[Finding]) -> str:
    """Stable JSON (sorted findings, fixed keys) for the API and for diffing runs."""
    items = [
        {**asdict(f), "grid_codes": list(f.grid_codes), "label_zh": LABELS_ZH.get(f.kind, f.kind)}
        for f in sorted(findings, key=_sort_key)
    ]
    return json.dumps({"total": len(items), "by_kind": _summary(findings), "findings": items},
                      ensure_ascii=False, indent=2)
