"""Grid API: list/filter/paginate, GeoJSON, one grid, shapefile import (zip) and export."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response
from shapely.geometry import mapping
from sqlalchemy import select

from gis import codes
from gis import crs as gis_crs
from gis.codes import community_of_grid, district_of, grid_code_problem, street_of
from gis.grid_files import SINGLE_FILE_SUFFIXES, read_polygons, unsupported_format
from gis.shapefile_io import FieldMapping, GridFeature, write_grids
from server.auth import service as auth_service
from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.deps import CurrentUser, DbSession, Now, require_roles
from server.divisions import service as divisions
from server.divisions.models import Community
from server.divisions.schemas import (
    CommunityCreate, CommunityDetail, CommunityRename, OutlineFeatureCollection, OutlineLevel,
)
from server.errors import Forbidden, InvalidInput, NotFound
from server.geometry import to_shapely
from server.grids import imports, outlines, service
from server.grids.models import Grid
from server.grids.schemas import (
    GRID_TYPE_LABELS_ZH, AssignmentRead, AssignmentRequest, GridFeatureCollection, GridImportReport, GridPage, GridRead,
    GridRetireRequest, GridSort, GridType,
)
from server.grids.scope import visible_grids
from server.inputs import Page, PageSize
from server.openapi import UPLOAD_RESPONSES, error, file_response
from server.territory import territory
from server.uploads import extract_shapefile_zip

router = APIRouter(prefix="/grids", tags=["grids"])
Editor = Annotated[User, Depends(require_roles(Role.district_admin))]


def _read(grid: Grid, *, geometry: bool) -> GridRead:
    community = grid.community.code
    return GridRead(
        code=grid.code, name=grid.name, grid_type=GridType(grid.grid_type),
        grid_type_zh=GRID_TYPE_LABELS_ZH[GridType(grid.grid_type)], community_code=community,
        street_code=street_of(community), district_code=district_of(community), area_m2=grid.area_m2,
        valid_from=grid.valid_from, retired_at=grid.retired_at, replaced_by_code=grid.replaced_by_code,
        geometry=mapping(to_shapely(grid.geom)) if geometry else None,
    )


def _filter(
    street_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    community_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    grid_type: GridType | None = None,
    q: Annotated[str | None, Query(max_length=64, description="name contains")] = None,
    include_retired: bool = False,
) -> service.GridFilter:
    return service.GridFilter(street_code, community_code, grid_type.value if grid_type else None, q, include_retired)


Filter = Annotated[service.GridFilter, Depends(_filter)]


@router.get("", response_model=GridPage)
def list_grids(db_session: DbSession, user: CurrentUser, flt: Filter, now: Now, page: Page = 1, page_size: PageSize = 50,
               sort: GridSort = GridSort.code, geometry: bool = False) -> GridPage:
    rows, total = service.list_grids(db_session=db_session, user=user, flt=flt, now=now, page=page, page_size=page_size,
                                     sort=sort)
    return GridPage(items=[_read(g, geometry=geometry) for g in rows], total=total, page=page, page_size=page_size)


@router.get("/geojson", response_model=GridFeatureCollection)
def grids_geojson(db_session: DbSession, user: CurrentUser, flt: Filter, now: Now, page: Page = 1,
                  page_size: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
    """A FeatureCollection in EPSG:4490 (RFC 7946 readers treat it as WGS-84: metre-level equal)."""
    rows, total = service.list_grids(db_session=db_session, user=user, flt=flt, now=now, page=page,
                                     page_size=page_size)
    features = []
    for g in rows:
        props = _read(g, geometry=False).model_dump(mode="json", exclude={"geometry"})
        features.append({"type": "Feature", "id": g.code, "properties": props, "geometry": mapping(to_shapely(g.geom))})
    return {"type": "FeatureCollection", "features": features, "total": total, "page": page, "page_size": page_size}


@router.get("/export", response_class=Response,
            responses=file_response("zipped shapefile: .shp, .shx, .dbf, .prj, .cpg", "application/zip"))
def export_grids(db_session: DbSession, user: CurrentUser, flt: Filter, now: Now,
                 epsg: int = gis_crs.CGCS2000) -> Response:
    """Zipped shapefile (.shp/.shx/.dbf/.prj/.cpg) in CGCS2000, geographic or a GK zone."""
    if epsg == gis_crs.WGS84 or not gis_crs.is_supported(epsg):
        raise InvalidInput(f"export CRS must be EPSG:4490 or a CGCS2000 GK zone (4513–4554), not {epsg}",
                           f"导出坐标系须为 CGCS2000（EPSG:4490 或 4513–4554），不支持 {epsg}", code="unsupported_crs")
    features = service.export_features(db_session=db_session, user=user, flt=flt, now=now)
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in write_grids(Path(tmp) / "grids.shp", features, epsg=epsg):
            zf.write(path, path.name)
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="grids_{epsg}.zip"'})


@router.post("/import", response_model=GridImportReport,
             responses={**UPLOAD_RESPONSES, 400: error("not a zip, an unsafe path in it, or too large unzipped")})
def import_grids(
    db_session: DbSession, admin: Editor, now: Now,
    file: Annotated[UploadFile, File(description="zip of .shp/.shx/.dbf/.prj/.cpg, a GeoPackage (.gpkg) or "
                                                 "GeoJSON (.geojson); the file name's suffix tells which")],
    crs: Annotated[int | None, Query(description="EPSG code when the file declares none (no .prj)")] = None,
    encoding: str | None = None, layer: str | None = None, dry_run: bool = False,
    code_field: str = "code", name_field: str = "name", community_field: str = "community", type_field: str = "type",
) -> GridImportReport:
    """All or nothing: a report with `committed: false` and blocking findings means nothing was written."""
    settings = get_settings()
    db_session.commit()  # end the transaction of the token check: no database lock is held while the zip is read
    suffix = Path(file.filename or "").suffix.lower() or ".zip"  # a nameless upload is read as a zip, as before
    if suffix not in (".zip", *SINGLE_FILE_SUFFIXES):
        raise unsupported_format(file.filename or "?")
    with tempfile.TemporaryDirectory() as tmp:
        upload = Path(tmp) / f"upload{suffix}"
        with open(upload, "wb") as out:
            while chunk := file.file.read(1024 * 1024):
                out.write(chunk)
        if suffix == ".zip":
            upload = extract_shapefile_zip(upload, Path(tmp) / "x", max_total_bytes=settings.max_unzipped_mb << 20,
                                           layer=layer)
        result = read_polygons(upload, mapping=FieldMapping(code_field, name_field, community_field, type_field),
                               crs=crs, encoding=encoding, layer=None if upload.suffix.lower() == ".shp" else layer)
    _ensure_in_territory(admin, now, result.features)
    report = imports.import_features(db_session=db_session, features=result.features,
                                     source_epsg=result.source_epsg, encoding=result.encoding, dry_run=dry_run)
    if report.committed:
        db_session.commit()
    return report


def _ensure_in_territory(admin: User, now: datetime, features: list[GridFeature]) -> None:
    """Grids only in the editor's own communities: before any check, whose findings would name the
    grids stored nearby. Malformed codes are left to the import's own checks, which block them."""
    t = territory(admin, now)
    of_grid = [community_of_grid(f.code) for f in features if grid_code_problem(f.code) is None]
    codes = [c for c in of_grid + [f.community_code or "" for f in features] if re.fullmatch(r"\d{12}", c)]
    outside = sorted({c for c in codes if not t.covers(c)})
    if outside:
        raise Forbidden(f"communities outside your area: {', '.join(outside[:10])}", "导入的网格不在您的管辖范围内",
                        code="scope_forbidden", detail={"communities": outside})


@router.get("/{code}", response_model=GridRead)
def get_grid(db_session: DbSession, user: CurrentUser, code: str, now: Now) -> GridRead:
    return _read(service.get_visible(db_session=db_session, user=user, code=code, now=now), geometry=True)


@router.post("/{code}/retire", response_model=GridRead)
def retire_grid(db_session: DbSession, admin: Editor, code: str, body: GridRetireRequest, now: Now) -> GridRead:
    service.get_visible(db_session=db_session, user=admin, code=code, now=now)  # inside the editor's territory
    if body.replaced_by_code:  # a replacement outside it is as unknown as one that does not exist
        replacement = db_session.scalar(select(Grid.id).where(Grid.code == body.replaced_by_code,
                                                              visible_grids(admin, now)))
        if replacement is None:
            raise service.replacement_not_found(body.replaced_by_code)
    grid = service.retire(db_session=db_session, code=code, replaced_by_code=body.replaced_by_code, at=now)
    db_session.commit()
    return _read(grid, geometry=False)


@router.post("/{code}/workers", response_model=AssignmentRead, status_code=201)
def assign_worker(db_session: DbSession, admin: Editor, code: str, body: AssignmentRequest, now: Now) -> dict[str, Any]:
    grid = service.get_visible(db_session=db_session, user=admin, code=code, now=now)
    worker = auth_service.get_by_username(db_session=db_session, username=body.username)
    # a user outside one's area is as unknown as one who does not exist
    if worker is None or not territory(admin, now).covers(worker.street_code or worker.district_code or ""):
        raise NotFound(f"user {body.username} not found", f"用户 {body.username} 不存在", code="user_not_found")
    a = service.assign_worker(db_session=db_session, grid=grid, worker=worker, at=now)
    db_session.commit()
    return {"grid_code": grid.code, "username": worker.username, "valid_from": a.valid_from}


# Communities are written here, above the divisions domain: retiring one needs to know its grids.
communities_router = APIRouter(prefix="/communities", tags=["divisions"])


def _community(db_session: DbSession, admin: User, code: str, now: datetime) -> Community:
    """404 alike for a community outside the editor's area and one that does not exist."""
    community = divisions.communities_by_code(db_session=db_session, codes_={code}).get(code)
    if community is None or not territory(admin, now).covers(code):
        raise NotFound(f"community {code} not found", f"社区 {code} 不存在", code="community_not_found")
    return community


def _community_read(c: Community) -> CommunityDetail:
    return CommunityDetail(code=c.code, name=c.name, street_code=c.street.code, retired_at=c.retired_at)


@communities_router.post("", response_model=CommunityDetail, status_code=201)
def create_community(db_session: DbSession, admin: Editor, body: CommunityCreate, now: Now) -> CommunityDetail:
    """A community under a registered street of one's district, with a code never issued before."""
    street_code = codes.street_of(body.code)  # a malformed code is refused here (422 malformed_code)
    if not territory(admin, now).covers(body.code):
        raise Forbidden(f"community {body.code} is outside your area", "该社区不在您的管辖范围内",
                        code="scope_forbidden")
    community = divisions.create_community(db_session=db_session, code=body.code, name=body.name,
                                           street_code=street_code)
    db_session.commit()
    return _community_read(community)


@communities_router.patch("/{code}", response_model=CommunityDetail)
def rename_community(db_session: DbSession, admin: Editor, code: str, body: CommunityRename,
                     now: Now) -> CommunityDetail:
    community = divisions.rename_community(db_session=db_session, community=_community(db_session, admin, code, now),
                                           name=body.name)
    db_session.commit()
    return _community_read(community)


@communities_router.post("/{code}/retire", response_model=CommunityDetail)
def retire_community(db_session: DbSession, admin: Editor, code: str, now: Now) -> CommunityDetail:
    """Only once its grids are retired; the code is never issued again."""
    community = _community(db_session, admin, code, now)
    community = divisions.retire_community(
        db_session=db_session, community=community, at=now,
        active_grids=service.active_grid_codes(db_session=db_session, community_id=community.id))
    db_session.commit()
    return _community_read(community)


# Outlines of the administrative areas for the map; here because a community without an imported
# boundary is outlined by its grids.
outlines_router = APIRouter(prefix="/divisions", tags=["divisions"])


@outlines_router.get("/geojson", response_model=OutlineFeatureCollection)
def divisions_geojson(db_session: DbSession, user: CurrentUser, now: Now, level: OutlineLevel,
                      street_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None) -> dict[str, Any]:
    """The streets or communities of your territory (a grid worker: those of their grids) as one
    FeatureCollection in EPSG:4490, like GET /grids/geojson: a community's imported boundary, else
    the union of its active grids (`source`); a street, the union of its communities. Areas with
    nothing to draw are left out; a street outside your territory gives an empty collection."""
    rows = outlines.outlines(db_session=db_session, user=user, level=level, now=now, street_code=street_code)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": o.code, "geometry": mapping(o.geometry), "properties": {
            "code": o.code, "name": o.name, "level": level, "street_code": o.street_code,
            "district_code": district_of(o.street_code), "source": o.source}} for o in rows]}
