"""Grid API: scoped reads, pagination, filters, GeoJSON, import (all or nothing) and export."""

from __future__ import annotations

from datetime import timedelta

import io
import zipfile
from pathlib import Path

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from gis.crs import area_m2
from gis.shapefile_io import GridFeature, write_grids
from server.auth.enums import Role
from server.grids import service
from tests import factories
from tests.conftest import NOW

C1, C2 = "440112001001", "440112001002"
C_OTHER_STREET = "440112002001"


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    """Two streets; street 1 has grids in two communities, street 2 one grid; a worker on one grid."""
    factories.tree(db_session)
    grids = {
        f"{C1}001": factories.grid(db_session, f"{C1}001", factories.gk_square(0, 0), "东区一格"),
        f"{C1}002": factories.grid(db_session, f"{C1}002", factories.gk_square(1, 0), "东区二格"),
        f"{C2}001": factories.grid(db_session, f"{C2}001", factories.gk_square(2, 0), "西区一格"),
        f"{C_OTHER_STREET}001": factories.grid(db_session, f"{C_OTHER_STREET}001", factories.gk_square(5, 5)),
    }
    worker = factories.user(db_session, Role.grid_worker)
    service.assign_worker(db_session=db_session, grid=grids[f"{C1}002"], worker=worker, at=NOW)
    users = {
        "admin": factories.user(db_session, Role.district_admin),
        "street": factories.user(db_session, Role.street_admin),
        "worker": worker,
        "auditor": factories.user(db_session, Role.auditor),
        "command": factories.user(db_session, Role.command_center),
    }
    return {"grids": grids, "users": users}


def _codes(resp) -> list[str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return [g["code"] for g in resp.json()["items"]]


@pytest.mark.parametrize(("who", "expected"), [
    ("admin", [f"{C1}001", f"{C1}002", f"{C2}001", f"{C_OTHER_STREET}001"]),
    ("command", [f"{C1}001", f"{C1}002", f"{C2}001", f"{C_OTHER_STREET}001"]),
    ("auditor", [f"{C1}001", f"{C1}002", f"{C2}001", f"{C_OTHER_STREET}001"]),
    ("street", [f"{C1}001", f"{C1}002", f"{C2}001"]),
    ("worker", [f"{C1}002"]),
])
def test_each_role_sees_its_scope(client, world, who: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/grids", headers=factories.auth_headers(world["users"][who]))
    assert _codes(r) == expected
    assert r.json()["total"] == len(expected)


def test_worker_gets_404_for_grid_outside_assignment(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["worker"])
    assert client.get(f"/api/v1/grids/{C1}002", headers=h).status_code == 200
    r = client.get(f"/api/v1/grids/{C1}001", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "grid_not_found"


def test_street_admin_cannot_read_other_street(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["street"])
    assert client.get(f"/api/v1/grids/{C_OTHER_STREET}001", headers=h).status_code == 404


def test_pagination_sort_and_filters(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["admin"])
    page1 = client.get("/api/v1/grids?page=1&page_size=3&sort=-code", headers=h)
    page2 = client.get("/api/v1/grids?page=2&page_size=3&sort=-code", headers=h)
    assert _codes(page1) == [f"{C_OTHER_STREET}001", f"{C2}001", f"{C1}002"]
    assert _codes(page2) == [f"{C1}001"] and page2.json()["total"] == 4
    assert _codes(client.get(f"/api/v1/grids?community_code={C1}", headers=h)) == [f"{C1}001", f"{C1}002"]
    assert _codes(client.get("/api/v1/grids?street_code=440112002000", headers=h)) == [f"{C_OTHER_STREET}001"]
    assert _codes(client.get("/api/v1/grids?q=东区", headers=h)) == [f"{C1}001", f"{C1}002"]
    bad = client.get("/api/v1/grids?page_size=100000", headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("query", ["street_code=440112000000", "street_code=990112001000",
                                   "community_code=990112001001"])
def test_malformed_code_filter_is_refused_not_empty(client, world, query: str) -> None:  # type: ignore[no-untyped-def]
    """A code that names no area is a mistake to report, not a filter that finds nothing."""
    r = client.get(f"/api/v1/grids?{query}", headers=factories.auth_headers(world["users"]["admin"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "malformed_code"


def test_grid_detail_has_geojson_geometry_and_gk_area(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/grids/{C1}001", headers=factories.auth_headers(world["users"]["admin"]))
    body = r.json()
    assert body["geometry"]["type"] == "MultiPolygon"
    assert body["area_m2"] == pytest.approx(10_000.0, abs=0.5)  # a 100 m square in its GK zone
    assert body["grid_type_zh"] == "综合网格" and body["street_code"] == "440112001000"
    assert shape(body["geometry"]).equals_exact(factories.gk_square(0, 0).buffer(0), 1e-9) or \
        area_m2(shape(body["geometry"])) == pytest.approx(10_000.0, abs=0.5)


def test_geojson_feature_collection(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/grids/geojson", headers=factories.auth_headers(world["users"]["street"]))
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["total"] == 3
    assert {f["id"] for f in fc["features"]} == {f"{C1}001", f"{C1}002", f"{C2}001"}
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in fc["features"])


def _zip(tmp_path: Path, features: list[GridFeature], *, epsg: int = 4490, drop: tuple[str, ...] = ()) -> bytes:
    paths = write_grids(tmp_path / "g.shp", features, epsg=epsg)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in paths:
            if p.suffix.lower() not in drop:
                zf.write(p, p.name)
    return buf.getvalue()


def _post_import(client, user, data: bytes, **params):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/grids/import", params=params, headers=factories.auth_headers(user),
                       files={"file": ("grids.zip", data, "application/zip")})


def _feature(code: str, ix: int, iy: int) -> GridFeature:
    return GridFeature(code, f"新网格{code[-3:]}", code[:12], "综合网格", factories.gk_square(ix, iy), {})


def test_import_creates_grids(client, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _zip(tmp_path, [_feature(f"{C2}002", 3, 0), _feature(f"{C2}003", 4, 0)], epsg=factories.ZONE38)
    r = _post_import(client, world["users"]["admin"], data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["committed"] and body["created"] == [f"{C2}002", f"{C2}003"]
    assert body["source_epsg"] == factories.ZONE38
    detail = client.get(f"/api/v1/grids/{C2}002", headers=factories.auth_headers(world["users"]["admin"])).json()
    assert detail["area_m2"] == pytest.approx(10_000.0, abs=0.01)
    again = _post_import(client, world["users"]["admin"], data).json()
    assert again["committed"] and again["created"] == [] and again["unchanged"] == [f"{C2}002", f"{C2}003"]


def test_dry_run_writes_nothing(client, world, tmp_path, db_session) -> None:  # type: ignore[no-untyped-def]
    r = _post_import(client, world["users"]["admin"], _zip(tmp_path, [_feature(f"{C2}002", 3, 0)]), dry_run="true")
    assert r.json()["committed"] is False and r.json()["findings"] == []
    assert service.get_by_code(db_session=db_session, code=f"{C2}002") is None


def test_overlap_with_stored_grid_blocks_whole_import(client, world, tmp_path, db_session) -> None:  # type: ignore[no-untyped-def]
    overlapping = GridFeature(f"{C2}005", "重叠", C2, "综合网格", factories.gk_square(0, 0, size=50.0), {})
    data = _zip(tmp_path, [_feature(f"{C2}004", 8, 8), overlapping])
    body = _post_import(client, world["users"]["admin"], data).json()
    assert body["committed"] is False
    overlap = [f for f in body["findings"] if f["kind"] == "overlap"]
    assert overlap and set(overlap[0]["grid_codes"]) == {f"{C1}001", f"{C2}005"}
    assert overlap[0]["area_m2"] == pytest.approx(2_500.0, abs=1.0)
    assert service.get_by_code(db_session=db_session, code=f"{C2}004") is None  # nothing half-imported


def test_changed_or_retired_code_is_refused(client, world, tmp_path, db_session) -> None:  # type: ignore[no-untyped-def]
    moved = _zip(tmp_path, [_feature(f"{C1}001", 9, 9)])
    body = _post_import(client, world["users"]["admin"], moved).json()
    assert [f["kind"] for f in body["findings"]] == ["code_exists"] and not body["committed"]
    service.retire(db_session=db_session, code=f"{C1}001", replaced_by_code=None, at=NOW)
    body = _post_import(client, world["users"]["admin"], moved).json()
    assert [f["kind"] for f in body["findings"]] == ["code_retired"] and not body["committed"]


def test_unknown_community_and_malformed_code(client, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _zip(tmp_path, [_feature("440112009009001", 7, 7), _feature("44011200100100A", 9, 9)])
    body = _post_import(client, world["users"]["admin"], data).json()
    kinds = {f["kind"] for f in body["findings"]}
    assert {"unknown_community", "malformed_code"} <= kinds and not body["committed"]
    # the malformed code names no community: one finding says so, not a second about community None
    assert {f["kind"] for f in body["findings"] if "44011200100100A" in f["grid_codes"]} == {"malformed_code"}


def test_names_the_grid_table_cannot_hold_are_refused(client, world, tmp_path, db_session) -> None:  # type: ignore[no-untyped-def]
    """A dBASE name holds 254 bytes: PostgreSQL refuses more than the column's 128 characters and any NUL,
    which made the import's write a 500 there (SQLite stored them)."""
    long_name = GridFeature(f"{C2}002", "x" * 129, C2, "综合网格", factories.gk_square(3, 0), {})
    nul_name = GridFeature(f"{C2}003", "网格\x00三", C2, "综合网格", factories.gk_square(4, 0), {})
    body = _post_import(client, world["users"]["admin"], _zip(tmp_path, [long_name, nul_name])).json()
    assert not body["committed"]
    assert {(f["kind"], f["grid_codes"][0]) for f in body["findings"]} == {("bad_name", f"{C2}002"),
                                                                         ("bad_name", f"{C2}003")}
    assert service.get_by_code(db_session=db_session, code=f"{C2}002") is None
    ok = GridFeature(f"{C2}002", "x" * 128, C2, "综合网格", factories.gk_square(3, 0), {})
    assert _post_import(client, world["users"]["admin"], _zip(tmp_path, [ok])).json()["committed"]


def test_import_without_prj_needs_crs(client, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _zip(tmp_path, [_feature(f"{C2}002", 3, 0)], drop=(".prj",))
    r = _post_import(client, world["users"]["admin"], data)
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_prj"
    assert "crs" in r.json()["error"]["message"].lower()
    r = _post_import(client, world["users"]["admin"], data, crs=4490)
    assert r.status_code == 200 and r.json()["committed"]


def test_import_forbidden_for_street_admin_worker_and_auditor(client, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _zip(tmp_path, [_feature(f"{C2}002", 3, 0)])
    for who in ("street", "worker", "auditor", "command"):
        r = _post_import(client, world["users"][who], data)
        assert r.status_code == 403, who


def test_zip_path_traversal_refused(client, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../etc/evil.shp", b"x")
    r = _post_import(client, world["users"]["admin"], buf.getvalue())
    assert r.status_code == 400 and r.json()["error"]["code"] == "zip_path_traversal"
    assert not (tmp_path.parent.parent / "etc" / "evil.shp").exists()


def test_not_a_zip_refused(client, world) -> None:  # type: ignore[no-untyped-def]
    r = _post_import(client, world["users"]["admin"], b"GIF89a not a zip")
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_a_zip"


@pytest.mark.parametrize("epsg", [4490, factories.ZONE38, 4526])
def test_export_round_trip(client, world, tmp_path, epsg: int) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["street"])
    r = client.get(f"/api/v1/grids/export?epsg={epsg}", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert sorted(Path(n).suffix for n in names) == [".cpg", ".dbf", ".prj", ".shp", ".shx"]
    from gis.shapefile_io import read_grids

    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path)
    back = read_grids(tmp_path / "grids.shp")
    assert back.source_epsg == epsg
    stored = {g["code"]: g for g in client.get("/api/v1/grids", headers=h).json()["items"]}
    assert {f.code for f in back.features} == set(stored)
    for f in back.features:
        assert area_m2(f.geometry) == pytest.approx(stored[f.code]["area_m2"], abs=0.01)
        assert f.name == stored[f.code]["name"]


def test_export_refuses_non_cgcs2000(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/grids/export?epsg=3857", headers=factories.auth_headers(world["users"]["admin"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_crs"


def test_retire_keeps_history_and_code(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["admin"])
    r = client.post(f"/api/v1/grids/{C1}002/retire", json={"replaced_by_code": f"{C1}001"}, headers=h)
    assert r.status_code == 200 and r.json()["retired_at"] is not None
    assert f"{C1}002" not in _codes(client.get("/api/v1/grids", headers=h))
    assert f"{C1}002" in _codes(client.get("/api/v1/grids?include_retired=true", headers=h))
    # the worker's assignment ended with the grid
    assert service.worker_grid_codes(db_session=db_session, worker=world["users"]["worker"], at=NOW + timedelta(days=1)) == []
    again = client.post(f"/api/v1/grids/{C1}002/retire", json={}, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "grid_retired"


def test_geopackage_and_geojson_uploads_beside_spatialite(client, world, tmp_path, db_session) -> None:  # type: ignore[no-untyped-def]
    """The readers run in the process that has mod_spatialite loaded (the SpatiaLite back end):
    pyogrio's bundled GDAL crashed there; the sqlite3/json readers must not."""
    import json

    from shapely.geometry import mapping as geo_mapping

    from gis.geopackage import write_grids_gpkg

    admin = world["users"]["admin"]
    gpkg = write_grids_gpkg(tmp_path / "网格.gpkg", [_feature(f"{C2}002", 3, 0)], epsg=factories.ZONE38)
    r = client.post("/api/v1/grids/import", headers=factories.auth_headers(admin),
                    files={"file": ("网格.gpkg", gpkg.read_bytes(), "application/geopackage+sqlite3")})
    assert r.status_code == 200 and r.json()["created"] == [f"{C2}002"], r.text
    assert r.json()["source_epsg"] == factories.ZONE38
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geo_mapping(factories.gk_square(4, 0)),
                                                      "properties": {"网格编码": f"{C2}003", "网格名称": "新格"}}]}
    r = client.post("/api/v1/grids/import", headers=factories.auth_headers(admin),
                    files={"file": ("grids.geojson", json.dumps(doc, ensure_ascii=False).encode(), "application/geo+json")})
    assert r.status_code == 200 and r.json()["created"] == [f"{C2}003"], r.text
    assert db_session.execute(text("SELECT spatialite_version()" if db_session.get_bind().dialect.name == "sqlite"
                                   else "SELECT postgis_version()")).scalar()  # the spatial database still answers
    r = client.post("/api/v1/grids/import", headers=factories.auth_headers(admin),
                    files={"file": ("grids.dxf", b"0\nSECTION\n", "application/dxf")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_format", r.text
    assert "GeoPackage" in r.json()["error"]["message_zh"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("grids.dwg", b"x")
    r = _post_import(client, admin, buf.getvalue())
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_format", r.text
