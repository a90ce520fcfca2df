"""A realistic demo district: streets, communities and a lattice of non-overlapping grids.

Vertices are jittered per lattice node (not per cell), so neighbouring grids share edges
exactly: no overlaps and no gaps, as a surveyed grid layer should be.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import shapely
from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.codes import child_code, serial_of, street_of
from gis.crs import CGCS2000, gk_epsg, gk_zone, transform, transformer
from gis.shapefile_io import GridFeature
from server.auth import service as auth_service
from server.auth.enums import Role
from server.auth.schemas import UserCreate
from server.auth.security import hash_password
from server.config import get_settings
from server.demo_devices import load_devices
from server.demo_operations import load_app_sessions, load_operations
from server.demo_rentals import load_key_persons, load_rentals, pii_available
from server.demo_reports import load_reports
from server.divisions import service as divisions
from server.divisions.models import District
from server.grids import imports
from server.grids import service as grids

DISTRICT = ("440112", "黄埔区")
STREETS = ["黄埔街道", "红山街道", "鱼珠街道", "大沙街道", "文冲街道", "穗东街道"]
ORIGIN = (113.43, 23.08)  # lon, lat of the lattice's south-west corner
DEMO_PASSWORD = "gridops2026"
# Workers have been on their grids for over a year, so the demo year of operations is theirs.
ASSIGNED_SINCE = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Layout:
    """Streets in a 3×2 block, each 3×2 communities, each `gx`×`gy` grids of `cell_m` metres."""

    gx: int = 4
    gy: int = 2
    cell_w: float = 420.0
    cell_h: float = 380.0
    jitter: float = 60.0


def _lattice(cols: int, rows: int, layout: Layout, seed: int) -> dict[tuple[int, int], tuple[float, float]]:
    rnd = random.Random(seed)
    epsg = gk_epsg(gk_zone(ORIGIN[0]))
    x0, y0 = transformer(CGCS2000, epsg).transform(*ORIGIN)
    nodes = {}
    for i in range(cols + 1):
        for j in range(rows + 1):
            jx = rnd.uniform(-layout.jitter, layout.jitter) if 0 < i < cols else 0.0
            jy = rnd.uniform(-layout.jitter, layout.jitter) if 0 < j < rows else 0.0
            nodes[(i, j)] = (x0 + i * layout.cell_w + jx, y0 + j * layout.cell_h + jy)
    return nodes


def demo_features(layout: Layout = Layout(), seed: int = 2026) -> tuple[list[GridFeature], dict[str, Polygon]]:
    """Grid features (EPSG:4490) and community boundaries for the demo district."""
    per_street_x, per_street_y = 3 * layout.gx, 2 * layout.gy
    cols, rows = 3 * per_street_x, 2 * per_street_y
    nodes = _lattice(cols, rows, layout, seed)
    epsg = gk_epsg(gk_zone(ORIGIN[0]))
    features: list[GridFeature] = []
    cells_by_community: dict[str, list[Polygon]] = {}
    for i in range(cols):
        for j in range(rows):
            street_no = (j // per_street_y) * 3 + i // per_street_x + 1
            community_no = ((j % per_street_y) // layout.gy) * 3 + (i % per_street_x) // layout.gx + 1
            serial = (j % layout.gy) * layout.gx + (i % layout.gx) + 1
            community = child_code(child_code(DISTRICT[0], street_no), community_no)
            ring = [nodes[(i, j)], nodes[(i + 1, j)], nodes[(i + 1, j + 1)], nodes[(i, j + 1)]]
            poly = transform(Polygon(ring), epsg, CGCS2000)
            name = f"{STREETS[street_no - 1]}第{community_no}社区第{serial}网格"
            kind = "专属网格" if serial == 1 and community_no == 1 else "综合网格"
            features.append(GridFeature(child_code(community, serial), name, community, kind, poly, {}))
            cells_by_community.setdefault(community, []).append(poly)
    boundaries = {c: shapely.union_all(cells) for c, cells in cells_by_community.items()}
    return features, boundaries


def _users(db_session: Session, features: list[GridFeature]) -> int:
    hashed = hash_password(DEMO_PASSWORD, rounds=get_settings().bcrypt_rounds)  # once, not per user
    district = DISTRICT[0]
    staff = [("admin", "区综治中心管理员", Role.district_admin, None), ("command", "指挥中心值班员", Role.command_center, None),
             ("auditor", "绩效审计员", Role.auditor, None)]
    staff += [(f"street{n:02d}", f"{name}管理员", Role.street_admin, child_code(district, n))
              for n, name in enumerate(STREETS, 1)]
    for username, full_name, role, street in staff:
        auth_service.create(db_session=db_session, hashed_password=hashed, user_in=UserCreate(
            username=username, full_name=full_name, password=DEMO_PASSWORD, role=role,
            district_code=district, street_code=street))
    for n, f in enumerate(features, 1):
        worker = auth_service.create(db_session=db_session, hashed_password=hashed, user_in=UserCreate(
            username=f"w{n:03d}", full_name=f"网格员{n:03d}", password=DEMO_PASSWORD, role=Role.grid_worker,
            street_code=street_of(f.code)))
        grid = grids.get_by_code(db_session=db_session, code=f.code)
        assert grid is not None
        grids.assign_worker(db_session=db_session, grid=grid, worker=worker, at=ASSIGNED_SINCE)
    return len(staff) + len(features)


def has_demo(db_session: Session) -> bool:
    return db_session.scalar(select(District.id).where(District.code == DISTRICT[0])) is not None


def load_demo(db_session: Session, layout: Layout = Layout()) -> dict[str, int]:
    """Create the demo district in one transaction; the caller commits. A larger `layout` makes the
    same district with more grids (bench/bench_dashboard.py)."""
    features, boundaries = demo_features(layout)
    divisions.create_district(db_session=db_session, code=DISTRICT[0], name=DISTRICT[1])
    for n, name in enumerate(STREETS, 1):
        divisions.create_street(db_session=db_session, code=child_code(DISTRICT[0], n), name=name,
                                district_code=DISTRICT[0])
    for code, boundary in sorted(boundaries.items()):
        street = street_of(code)
        name = f"{STREETS[serial_of(street) - 1]}第{serial_of(code)}社区"
        divisions.create_community(db_session=db_session, code=code, name=name, street_code=street, boundary=boundary)
    report = imports.import_features(db_session=db_session, features=features, source_epsg=CGCS2000, encoding="UTF-8")
    if not report.committed:
        raise RuntimeError(f"demo grids failed their own checks: {report.findings[:5]}")
    users = _users(db_session, features)
    return {"streets": len(STREETS), "communities": len(boundaries), "grids": len(report.created), "users": users}


def load_year(db_session: Session, *, now: datetime, days: int = 365, seed: int = 2026) -> dict[str, dict[str, int]]:
    """The demo's last `days` up to `now`, in the order the data depends on: events, visits and the app's sync days, devices
    and their history, rentals with tenants and card events (only with a PII key: GRIDOPS_DEMO or
    GRIDOPS_PII_KEY), then trainings and the Friday reports that read the rest. The caller commits."""
    counts = {"operations": load_operations(db_session, now=now, days=days, seed=seed),
              "app": load_app_sessions(db_session, now=now, days=days, seed=seed),
              "devices": load_devices(db_session, now=now, days=days, seed=seed)}
    if pii_available():
        counts["rentals"] = load_rentals(db_session, now=now, days=days, seed=seed)
        counts["key_persons"] = load_key_persons(db_session, now=now, days=days, seed=seed)
    counts["reports"] = load_reports(db_session, now=now, days=days, seed=seed)
    return counts
