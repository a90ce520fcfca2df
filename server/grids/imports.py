"""Grid import: validate the whole file against itself and the database, then write all or nothing.

Nothing is "fixed": invalid rings, overlaps, duplicate or malformed codes block the import
and come back as a report naming the grid codes and areas; gaps are reported as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

from geoalchemy2.shape import from_shape
from shapely import box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from gis.codes import community_claimed
from gis.crs import CGCS2000, area_m2
from gis.shapefile_io import GridFeature
from gis.topology import CheckInput, Finding, check_grids
from server.divisions import service as divisions
from server.geometry import as_multipolygon, to_db_multipolygon, to_shapely
from server.grids.models import Grid
from server.grids.schemas import GRID_TYPE_FROM_TEXT, FindingRead, GridImportReport, GridType
from server.inputs import has_control_characters

NON_BLOCKING = frozenset({"gap"})
KIND_ZH = {
    "invalid_ring": "无效环", "self_intersection": "自相交", "overlap": "网格重叠", "gap": "网格缝隙",
    "duplicate_code": "编码重复", "malformed_code": "编码不规范", "unknown_community": "社区不存在",
    "code_exists": "编码已存在", "code_retired": "编码已撤销不可复用", "unknown_grid_type": "网格类型无效",
    "outside_community": "超出社区边界", "bad_name": "网格名称无效", "community_retired": "社区已撤销",
}
NAME_MAX = Grid.__table__.c.name.type.length  # 128: PostgreSQL refuses a longer value (a 500), SQLite keeps it


def _finding(kind: str, codes: Sequence[str], detail: str, area: float | None = None) -> FindingRead:
    return FindingRead(kind=kind, kind_zh=KIND_ZH.get(kind, kind), grid_codes=list(codes), area_m2=area,
                       detail=detail, blocking=kind not in NON_BLOCKING)


def _from_topology(f: Finding) -> FindingRead:
    return _finding(f.kind, f.grid_codes, f.detail, f.area_m2)


def _community_code(feature: GridFeature) -> str | None:
    return community_claimed(feature.code, feature.community_code)


def _neighbours(db_session: Session, features: Sequence[GridFeature], exclude: set[str]) -> list[Grid]:
    """Active grids already stored around the imported ones, to catch overlaps with them."""
    minx, miny, maxx, maxy = zip(*(f.geometry.bounds for f in features), strict=True)
    envelope = from_shape(box(min(minx), min(miny), max(maxx), max(maxy)), srid=CGCS2000)
    q = select(Grid).options(joinedload(Grid.community)).where(
        Grid.retired_at.is_(None), func.ST_Intersects(Grid.geom, envelope))
    return [g for g in db_session.scalars(q) if g.code not in exclude]


def _same_shape(stored: BaseGeometry, imported: BaseGeometry) -> bool:
    """Same vertices to 1e-9°, whatever the ring orientation or start vertex (normalised)."""
    return stored.normalize().equals_exact(as_multipolygon(imported).normalize(), 1e-9)


def _existing(db_session: Session, features: Sequence[GridFeature]) -> tuple[list[str], list[FindingRead]]:
    """Codes already stored: the same grid again is 'unchanged'; anything else is refused."""
    by_code = {g.code: g for g in db_session.scalars(select(Grid).where(Grid.code.in_([f.code for f in features])))}
    unchanged, findings = [], []
    for f in features:
        stored = by_code.get(f.code)
        if stored is None:
            continue
        if stored.retired_at is not None:
            findings.append(_finding("code_retired", [f.code], "a retired grid's code is never reused"))
        elif stored.name == f.name and _same_shape(to_shapely(stored.geom), f.geometry):
            unchanged.append(f.code)
        else:
            findings.append(_finding("code_exists", [f.code], "a grid with this code exists with other data; "
                                     "retire it and import the replacement under a new code"))
    return unchanged, findings


def _attribute_findings(features: Sequence[GridFeature], known: set[str], retired: set[str]) -> list[FindingRead]:
    out = []
    for f in features:
        community = _community_code(f)
        if community in retired:
            out.append(_finding("community_retired", [f.code], f"community {community} is retired"))
        elif community is not None and community not in known:  # None: a malformed code, its own finding
            out.append(_finding("unknown_community", [f.code], f"community {community} is not registered"))
        if f.grid_type and f.grid_type not in GRID_TYPE_FROM_TEXT:
            out.append(_finding("unknown_grid_type", [f.code], f"grid type {f.grid_type!r}: use 综合网格 or 专属网格"))
        if len(f.name) > NAME_MAX or has_control_characters(f.name):  # a dBASE field holds 254 bytes, NUL too
            out.append(_finding("bad_name", [f.code], f"grid name {f.name[:40]!r}…: at most {NAME_MAX} characters, "
                                "no control characters"))
    return out


def import_features(
    *, db_session: Session, features: Sequence[GridFeature], source_epsg: int, encoding: str,
    dry_run: bool = False, overlap_tolerance_m2: float = 1.0, gap_tolerance_m2: float = 1.0,
) -> GridImportReport:
    """Check everything first; write only when no blocking finding remains and not a dry run."""
    community_codes = {c for f in features if (c := _community_code(f)) is not None}
    communities = divisions.communities_by_code(db_session=db_session, codes_=community_codes)
    unchanged, findings = _existing(db_session, features) if features else ([], [])
    findings += _attribute_findings(features, set(communities),
                                    {c for c, obj in communities.items() if obj.retired_at is not None})
    new = [f for f in features if f.code not in set(unchanged)]
    if new:
        neighbours = _neighbours(db_session, new, exclude={f.code for f in features})
        checked = [CheckInput(f.code, f.geometry, _community_code(f)) for f in new]
        checked += [CheckInput(g.code, to_shapely(g.geom), g.community.code) for g in neighbours]
        boundaries = {c.code: to_shapely(c.boundary) for c in communities.values() if c.boundary is not None}
        new_codes = {f.code for f in new}
        findings += [
            _from_topology(t) for t in check_grids(
                checked, community_boundaries=boundaries,
                overlap_tolerance_m2=overlap_tolerance_m2, gap_tolerance_m2=gap_tolerance_m2)
            if t.kind == "gap" or new_codes.intersection(t.grid_codes)
        ]
    commit = not dry_run and not any(f.blocking for f in findings)
    if commit:
        for f in new:
            db_session.add(Grid(
                code=f.code, name=f.name, community_id=communities[_community_code(f)].id,
                grid_type=GRID_TYPE_FROM_TEXT.get(f.grid_type or "", GridType.comprehensive).value,
                geom=to_db_multipolygon(f.geometry), area_m2=round(area_m2(f.geometry), 3),
            ))
        db_session.flush()
    return GridImportReport(
        source_epsg=source_epsg, encoding=encoding, features=len(features),
        created=[f.code for f in new] if commit else [], unchanged=unchanged, findings=findings, committed=commit,
    )
