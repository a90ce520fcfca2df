"""GeoPackage and GeoJSON grid files read like shapefiles: same features, same CRS rules, named refusals."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pytest
import shapely
from shapely.geometry import mapping

from common.errors import InputError
from gis.crs import CGCS2000, area_m2
from gis.geopackage import read_grids_gpkg, wkb_of, write_grids_gpkg
from gis.grid_files import read_polygons
from gis.shapefile_io import COMMUNITY_FIELDS, FieldMapping, GridFeature, write_grids
from tests.factories import ZONE38, gk_square

C1 = "440112001001"


def _features() -> list[GridFeature]:
    return [GridFeature(f"{C1}00{i}", f"网格{i}", C1, "综合网格", gk_square(i, 0), {}) for i in (1, 2)]


@pytest.mark.parametrize("epsg", [CGCS2000, ZONE38])
def test_geopackage_round_trip(tmp_path: Path, epsg: int) -> None:
    path = write_grids_gpkg(tmp_path / "网格.gpkg", _features(), epsg=epsg)
    result = read_polygons(path)
    assert result.source_epsg == epsg and result.problems == []
    assert [(f.code, f.name, f.community_code, f.grid_type) for f in result.features] == \
        [(f"{C1}001", "网格1", C1, "综合网格"), (f"{C1}002", "网格2", C1, "综合网格")]
    assert area_m2(result.features[0].geometry) == pytest.approx(10_000.0, abs=0.01)


def test_same_features_from_all_three_formats(tmp_path: Path) -> None:
    feats = _features()
    write_grids(tmp_path / "g.shp", feats)
    write_grids_gpkg(tmp_path / "g.gpkg", feats)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"网格编码": f.code, "网格名称": f.name, "社区编码": f.community_code},
         "geometry": mapping(f.geometry)} for f in feats]}
    (tmp_path / "g.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    results = [read_polygons(tmp_path / name) for name in ("g.shp", "g.gpkg", "g.geojson")]
    codes = [[f.code for f in r.features] for r in results]
    assert codes[0] == codes[1] == codes[2] == [f"{C1}001", f"{C1}002"]
    for a, b in zip(results[0].features, results[2].features):
        assert shapely.equals_exact(a.geometry.normalize(), b.geometry.normalize(), 1e-9)


def _blob(flags: int, wkb: bytes, envelope: bytes = b"") -> bytes:
    return b"GP" + bytes([0, flags]) + struct.pack("<i", 4490) + envelope + wkb


def test_header_variants(tmp_path: Path) -> None:
    """Envelope sizes, the empty flag, and ISO WKB with Z (GDAL writes 3-D when the source has it)."""
    square = gk_square(0, 0)
    wkb = shapely.to_wkb(square)
    assert wkb_of(_blob(0b0000_0001, wkb)) == wkb
    assert wkb_of(_blob(0b0000_0101, wkb, bytes(48))) == wkb  # envelope with z: 48 bytes
    assert wkb_of(_blob(0b0001_0011, b"", bytes(32))) is None  # empty geometry
    with pytest.raises(ValueError, match="extended"):
        wkb_of(_blob(0b0010_0001, wkb))
    path = write_grids_gpkg(tmp_path / "z.gpkg", _features()[:1])
    z = shapely.to_wkb(shapely.force_3d(square), flavor="iso")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE grids SET geom = ?", (_blob(0b0000_0001, z),))
        conn.execute("INSERT INTO grids (geom, code, name) VALUES (?, '440112001001009', 'empty')",
                      (_blob(0b0001_0001, b""),))
    conn.close()
    result = read_grids_gpkg(path)
    assert [f.code for f in result.features] == [f"{C1}001"]
    assert not shapely.has_z(result.features[0].geometry)
    assert [p.kind for p in result.problems] == ["null_shape"]


def _gpkg_sql(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, args)
    conn.close()


def test_geopackage_refusals(tmp_path: Path) -> None:
    path = write_grids_gpkg(tmp_path / "g.gpkg", _features())
    with pytest.raises(InputError) as err:
        read_grids_gpkg(path, crs=4547)
    assert err.value.code == "crs_mismatch"
    _gpkg_sql(path, "UPDATE gpkg_geometry_columns SET srs_id = 0")
    with pytest.raises(InputError) as err:
        read_grids_gpkg(path)
    assert err.value.code == "missing_crs" and "--crs" in err.value.message_zh
    assert read_grids_gpkg(path, crs=CGCS2000).source_epsg == CGCS2000
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                     "VALUES ('points', 'features', 'points', 4490)")
        conn.execute("CREATE TABLE points (fid INTEGER PRIMARY KEY, geom POINT, code TEXT, name TEXT)")
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES ('points', 'geom', 'POINT', 4490, 0, 0)")
    conn.close()
    with pytest.raises(InputError) as err:
        read_grids_gpkg(path)
    assert err.value.code == "layer_not_found" and "grids, points" in err.value.message_en
    with pytest.raises(InputError) as err:
        read_grids_gpkg(path, layer="points", crs=CGCS2000)
    assert err.value.code == "not_polygon"
    assert len(read_grids_gpkg(path, layer="grids", crs=CGCS2000).features) == 2
    (tmp_path / "plain.gpkg").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputError) as err:
        read_polygons(tmp_path / "plain.gpkg")
    assert err.value.code == "unreadable_geopackage"


@pytest.mark.parametrize("name", ["grids.dxf", "grids.kml", "grids.tab", "grids"])
def test_unsupported_format_is_named(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(InputError) as err:
        read_polygons(tmp_path / name)
    assert err.value.code == "unsupported_format"
    assert "GeoPackage" in err.value.message_en and "GeoJSON" in err.value.message_zh


def test_geojson_crs_rules(tmp_path: Path) -> None:
    feature = {"type": "Feature", "properties": {"code": f"{C1}001", "name": "甲"}, "geometry": mapping(gk_square(0, 0))}
    path = tmp_path / "g.geojson"

    def read(doc: dict, **kw: object):  # type: ignore[no-untyped-def]
        path.write_text(json.dumps(doc), encoding="utf-8")
        return read_polygons(path, **kw)

    plain = {"type": "FeatureCollection", "features": [feature]}
    assert read(plain).source_epsg == CGCS2000
    assert read(plain, crs=4326).source_epsg == CGCS2000  # RFC 7946 lon/lat: WGS 84 and CGCS2000 agree
    named = {**plain, "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}}
    with pytest.raises(InputError) as err:
        read(named)  # lon/lat values declared as GK metres: outside China once converted
    assert err.value.code == "coordinates_out_of_range"
    mercator = {**plain, "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}
    with pytest.raises(InputError) as err:
        read(mercator)
    assert err.value.code == "unsupported_crs"
    with pytest.raises(InputError) as err:
        read({**plain, "features": [{**feature, "geometry": {"type": "Point", "coordinates": [113.4, 23.1]}}]})
    assert err.value.code == "not_polygon"
    with pytest.raises(InputError) as err:
        read({"type": "Feature"} | {"geometry": None, "properties": {}}, mapping=FieldMapping())
    assert err.value.code == "missing_field"
    path.write_bytes("\ufeff".encode("utf-16"))
    with pytest.raises(InputError) as err:
        read_polygons(path)
    assert err.value.code in ("unknown_encoding", "unreadable_geojson")


def test_community_boundary_fields(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"社区代码": C1, "社区名称": "东区社区"}, "geometry": mapping(gk_square(0, 0))}]}
    (tmp_path / "b.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = read_polygons(tmp_path / "b.geojson", mapping=COMMUNITY_FIELDS)
    assert [(f.code, f.name) for f in result.features] == [(C1, "东区社区")]
