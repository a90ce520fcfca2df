from __future__ import annotations

import json
import struct

import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from common.errors import InputError
from gis.crs import transform
from gis.topology import CheckInput, Finding, check_grids, report_json, report_text

COMMUNITY = "440112001001"
X0, Y0 = 38_438_000.0, 2_555_000.0  # EPSG:4526 (GK zone 38, prefixed), Guangzhou


def gk(geom):
    """Build in metres, store in EPSG:4490, as imported grids are."""
    return transform(geom, 4526, 4490)


def square(x: float, y: float, w: float, h: float | None = None) -> Polygon:
    return gk(box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (w if h is None else h)))


def grid(serial: int, geom, community: str | None = COMMUNITY) -> CheckInput:
    return CheckInput(f"{COMMUNITY}{serial:03d}", geom, community)


def lattice(n: int = 3, size: float = 100.0) -> list[CheckInput]:
    return [grid(i * n + j + 1, square(j * size, i * size, size)) for i in range(n) for j in range(n)]


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def test_clean_lattice_has_no_findings() -> None:
    findings = check_grids(lattice(), community_boundaries={COMMUNITY: square(0, 0, 300)})
    assert findings == []
    assert "no findings" in report_text(findings)


def test_overlap_of_exactly_100_m2() -> None:
    grids = [grid(1, square(0, 0, 100)), grid(2, square(90, 90, 100))]
    (f,) = check_grids(grids)
    assert f.kind == "overlap" and f.grid_codes == (f"{COMMUNITY}001", f"{COMMUNITY}002")
    assert f.area_m2 == pytest.approx(100.0, abs=0.5)


def test_contained_and_identical_grids_overlap_fully() -> None:
    grids = [grid(1, square(0, 0, 100)), grid(2, square(10, 10, 20)), grid(3, square(0, 0, 100))]
    found = {f.grid_codes: f.area_m2 for f in check_grids(grids)}
    c1, c2, c3 = (f"{COMMUNITY}00{i}" for i in (1, 2, 3))
    assert found == {(c1, c2): pytest.approx(400, abs=0.5), (c1, c3): pytest.approx(10_000, abs=0.5),
                     (c2, c3): pytest.approx(400, abs=0.5)}


def test_shared_edges_and_corners_are_not_overlaps() -> None:
    assert check_grids(lattice(2)) == []


@pytest.mark.parametrize(("tolerance", "reported"), [(1.0, False), (0.4, True)])
def test_overlap_tolerance(tolerance: float, reported: bool) -> None:
    grids = [grid(1, square(0, 0, 100)), grid(2, square(99.5, 0, 100, 1))]  # 0.5 m x 1 m
    findings = check_grids(grids, overlap_tolerance_m2=tolerance)
    assert kinds(findings) == (["overlap"] if reported else [])
    if reported:
        assert findings[0].area_m2 == pytest.approx(0.5, abs=0.01)


def test_each_gap_reported_with_area_and_neighbours() -> None:
    grids = [g for g in lattice() if g.code not in (f"{COMMUNITY}005", f"{COMMUNITY}009")]
    findings = check_grids(grids, community_boundaries={COMMUNITY: square(0, 0, 300)})
    assert kinds(findings) == ["gap", "gap"]
    by_area = sorted(findings, key=lambda f: f.area_m2)
    assert [f.area_m2 for f in by_area] == [pytest.approx(10_000, abs=0.5)] * 2
    centre = next(f for f in findings if f"{COMMUNITY}001" in f.grid_codes)
    assert centre.grid_codes == tuple(f"{COMMUNITY}00{i}" for i in (1, 2, 3, 4, 6, 7, 8))
    assert COMMUNITY in centre.detail


def test_gap_tolerance() -> None:
    grids = [grid(1, square(0, 0, 100, 99.5))]  # leaves a 100 m x 0.5 m strip = 50 m²
    boundary = {COMMUNITY: square(0, 0, 100)}
    assert kinds(check_grids(grids, community_boundaries=boundary)) == ["gap"]
    assert check_grids(grids, community_boundaries=boundary, gap_tolerance_m2=60) == []


def test_community_without_grids_is_one_big_gap() -> None:
    (f,) = check_grids([], community_boundaries={COMMUNITY: square(0, 0, 100)})
    assert (f.kind, f.grid_codes) == ("gap", ())
    assert f.area_m2 == pytest.approx(10_000, abs=0.5)


def test_grid_spilling_out_of_its_community() -> None:
    grids = [grid(1, square(0, 0, 110, 100))]
    findings = check_grids(grids, community_boundaries={COMMUNITY: square(0, 0, 100)})
    assert kinds(findings) == ["outside_community"]
    assert findings[0].area_m2 == pytest.approx(1_000, abs=0.5)


def test_duplicate_and_malformed_codes() -> None:
    grids = [
        grid(1, square(0, 0, 100)),
        grid(1, square(100, 0, 100)),
        CheckInput("440112001002003", square(200, 0, 100), COMMUNITY),  # wrong community prefix
        CheckInput("44011200100100", square(300, 0, 100)),  # 14 digits
    ]
    findings = check_grids(grids)
    assert kinds(findings) == ["duplicate_code", "malformed_code", "malformed_code"]
    assert findings[0].grid_codes == (f"{COMMUNITY}001",) and "2" in findings[0].detail
    assert {f.grid_codes[0] for f in findings[1:]} == {"440112001002003", "44011200100100"}


def _wkb_polygon(*rings: list[tuple[float, float]]) -> Polygon:
    """Through WKB, because shapely's constructors pad short rings."""
    body = b"".join(struct.pack("<I", len(r)) + b"".join(struct.pack("<2d", *p) for p in r) for r in rings)
    return shapely.from_wkb(struct.pack("<BII", 1, 3, len(rings)) + body)


def test_invalid_rings() -> None:
    x, y = 113.4, 23.1
    too_few = _wkb_polygon([(x, y), (x + 0.001, y), (x, y)])
    flat = Polygon([(x, y + 0.01), (x + 0.001, y + 0.01), (x + 0.002, y + 0.01), (x, y + 0.01)])
    hole_flat = Polygon(box(x, y + 0.02, x + 0.01, y + 0.03).exterior.coords,
                        [[(x + 0.001, y + 0.021), (x + 0.002, y + 0.021), (x + 0.003, y + 0.021)]])
    findings = check_grids([grid(1, too_few), grid(2, flat), grid(3, hole_flat)])
    rings = {f.grid_codes[0][-1]: f.detail for f in findings if f.kind == "invalid_ring"}
    assert "3 points" in rings["1"] and "zero area" in rings["2"] and "ring 2 has zero area" in rings["3"]
    # a flat ring is also reported by GEOS; a too-short one only once
    assert ("self_intersection", (f"{COMMUNITY}001",)) not in {(f.kind, f.grid_codes) for f in findings}


def test_bow_tie_reported_and_left_out_of_overlays() -> None:
    bow = Polygon([(113.40, 23.10), (113.41, 23.11), (113.41, 23.10), (113.40, 23.105)])
    neighbour = gk(box(*transform(bow, 4490, 4526).bounds))  # overlaps the bow-tie heavily
    findings = check_grids([grid(1, bow), grid(2, neighbour)])
    assert kinds(findings) == ["self_intersection"]
    assert "Self-intersection" in findings[0].detail


def test_geometry_is_not_modified() -> None:
    bow = Polygon([(113.40, 23.10), (113.41, 23.11), (113.41, 23.10), (113.40, 23.105)])
    grids = [grid(1, bow), *lattice(2)]
    before = [g.geometry_4490.wkb for g in grids]
    check_grids(grids, community_boundaries={COMMUNITY: square(0, 0, 300)})
    assert [g.geometry_4490.wkb for g in grids] == before


def test_multipolygon_grid_checked_as_one() -> None:
    two_parts = MultiPolygon([square(0, 0, 100), square(200, 0, 100)])
    findings = check_grids([grid(1, two_parts), grid(2, square(100, 0, 100))],
                           community_boundaries={COMMUNITY: square(0, 0, 300, 100)})
    assert findings == []


def test_invalid_community_boundary_refused() -> None:
    bow = Polygon([(113.40, 23.10), (113.41, 23.11), (113.41, 23.10), (113.40, 23.105)])
    with pytest.raises(InputError) as exc:
        check_grids(lattice(1), community_boundaries={COMMUNITY: bow})
    assert exc.value.code == "invalid_boundary"


def test_reports_are_deterministic_and_labelled() -> None:
    grids = [grid(2, square(90, 90, 100)), grid(1, square(0, 0, 100)), grid(1, square(500, 0, 10))]
    findings = check_grids(grids)
    text = report_text(findings)
    assert text == report_text(list(reversed(findings)))
    lines = text.splitlines()
    assert lines[0].startswith("[编码重复 duplicate_code] 440112001001001")
    assert lines[1].startswith("[网格重叠 overlap] 440112001001001, 440112001001002 100.00 m²")
    assert lines[-1].startswith("共2项问题：编码重复1，网格重叠1")
    data = json.loads(report_json(findings))
    assert data["total"] == 2 and data["by_kind"] == {"duplicate_code": 1, "overlap": 1}
    assert data["findings"][1]["grid_codes"] == ["440112001001001", "440112001001002"]
    assert data["findings"][1]["label_zh"] == "网格重叠"
    assert report_json(findings) == report_json(list(reversed(findings)))
