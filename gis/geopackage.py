"""Grid and boundary polygons in and out of OGC GeoPackages, with the standard library's sqlite3.

A GeoPackage is an SQLite database with three metadata tables (gpkg_contents,
gpkg_geometry_columns, gpkg_spatial_ref_sys) and geometries stored as a short binary header
followed by plain WKB (OGC 12-128r18, §2.1.3). Reading it takes no GDAL: pyogrio's bundled GDAL
crashed beside mod_spatialite in this process (FACTS.md), and a plain sqlite3 connection that
loads no extension cannot. The same rules as the shapefile reader hold: the CRS is never guessed,
geometry is never repaired, every skipped record is listed in ``ImportResult.problems``.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from common.errors import InputError
from gis.crs import CGCS2000, is_supported, transform
from gis.prj import epsg_from_prj, prj_for_epsg
from gis.shapefile_io import (
    FieldMapping, GridFeature, ImportProblem, ImportResult, build_feature, check_extent, locate_fields, note,
)

APPLICATION_IDS = {0x47504B47, 0x47503130, 0x47503131}  # "GPKG" (1.2+), "GP10", "GP11"
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}  # by the flags' envelope indicator (bits 1-3)
_POLYGONAL = {"POLYGON", "MULTIPOLYGON", "GEOMETRY", "CURVEPOLYGON", "MULTISURFACE"}


def _unreadable(path: Path, why: str) -> InputError:
    return InputError("unreadable_geopackage", f"GeoPackage文件{path.name}无法读取：{why}",
                      f"{path.name} is not a readable GeoPackage: {why}")


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise InputError("missing_file", f"找不到文件：{path}", f"file not found: {path}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        conn.close()
        raise _unreadable(path, str(e)) from None
    if not {"gpkg_contents", "gpkg_geometry_columns", "gpkg_spatial_ref_sys"} <= tables:
        conn.close()
        raise _unreadable(path, f"no GeoPackage metadata tables (application_id {app_id:#x})")
    return conn


def _layer(conn: sqlite3.Connection, path: Path, layer: str | None) -> tuple[str, str, str, int]:
    """(table, geometry column, geometry type, srs_id) of the one feature layer, or the named one."""
    rows = conn.execute(
        "SELECT c.table_name, g.column_name, upper(g.geometry_type_name), g.srs_id FROM gpkg_contents c "
        "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features' "
        "ORDER BY c.table_name").fetchall()
    chosen = [r for r in rows if layer is None or r[0] == layer]
    if len(chosen) != 1:
        names = ", ".join(r[0] for r in rows) or "none"
        raise InputError("layer_not_found",
                         f"GeoPackage文件{path.name}中应恰好选中一个要素图层（现有：{names}），请用layer指定图层名",
                         f"{path.name}: expected exactly one feature layer (present: {names}); name one with layer")
    return chosen[0]


def _epsg(conn: sqlite3.Connection, srs_id: int, crs: int | None) -> tuple[int, str]:
    """The layer's EPSG code from gpkg_spatial_ref_sys; ``crs`` only fills an undefined one."""
    row = conn.execute("SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys "
                       "WHERE srs_id = ?", (srs_id,)).fetchone()
    declared: int | None = None
    if row is not None and srs_id > 0:
        org, org_id, definition = row
        if str(org or "").upper() == "EPSG" and is_supported(int(org_id)):
            declared = int(org_id)
        elif definition and str(definition).strip().lower() != "undefined":
            declared = epsg_from_prj(str(definition))  # refuses an unsupported CRS by name
    if crs is not None and not is_supported(crs):
        prj_for_epsg(crs)  # raises unsupported_crs, worded once in gis.prj
    if declared is None:
        if crs is None:
            raise InputError("missing_crs", "GeoPackage图层未声明坐标系，请用--crs指定EPSG代码（如4490、4526）。",
                             "the GeoPackage layer declares no CRS; pass --crs EPSG (e.g. 4490)")
        return crs, f"EPSG:{crs} (--crs)"
    if crs is not None and crs != declared:
        raise InputError("crs_mismatch", f"GeoPackage声明的坐标系是EPSG:{declared}，与指定的EPSG:{crs}不一致，请确认后重试。",
                         f"the GeoPackage declares EPSG:{declared} but EPSG:{crs} was given; check which is right")
    return declared, f"EPSG:{declared} (GeoPackage)"


def wkb_of(blob: bytes) -> bytes | None:
    """The WKB inside a GeoPackage geometry blob, None for an empty geometry (header flag bit 4)."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise ValueError("no GP magic")
    flags = blob[3]
    if flags & 0b0010_0000:
        raise ValueError("extended GeoPackage geometry")
    envelope = (flags >> 1) & 0b111
    if envelope not in _ENVELOPE_BYTES:
        raise ValueError(f"bad envelope indicator {envelope}")
    if flags & 0b0001_0000:
        return None
    return blob[8 + _ENVELOPE_BYTES[envelope]:]


def _geometries(rows: Sequence[tuple], at: int, problems: list[ImportProblem]) -> tuple[list[int], np.ndarray]:
    """(record index, 2-D polygon) of every usable row; null, empty and unreadable ones are noted."""
    kept, wkbs = [], []
    for rec, row in enumerate(rows):
        blob = row[at]
        try:
            wkb = None if blob is None else wkb_of(bytes(blob))
        except ValueError as e:
            note(problems, rec, "unreadable_geometry", f"的几何无法读取（{e}），未导入", f"unreadable geometry ({e}); skipped")
            continue
        if wkb is None:
            note(problems, rec, "null_shape", "没有几何图形，未导入", "no geometry; skipped")
            continue
        kept.append(rec)
        wkbs.append(wkb)
    geoms = shapely.from_wkb(wkbs, on_invalid="ignore") if wkbs else np.array([], dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    for rec in (r for r, k in zip(kept, ok) if not k):
        note(problems, rec, "unreadable_geometry", "的几何无法读取，未导入", "unreadable geometry; skipped")
    geoms = shapely.force_2d(geoms[ok]) if ok.any() else geoms[ok]
    return [r for r, k in zip(kept, ok) if k], geoms


def _refuse_non_polygons(geoms: np.ndarray, kept: list[int]) -> None:
    for rec, g in zip(kept, geoms):
        if not isinstance(g, (Polygon, MultiPolygon)):
            raise InputError("not_polygon", f"网格边界必须是面（Polygon）图层，第{rec + 1}条记录是{g.geom_type}。",
                             f"grid boundaries must be polygons; record {rec + 1} is a {g.geom_type}")


def read_grids_gpkg(path: str | Path, *, mapping: FieldMapping | None = None, crs: int | None = None,
                    layer: str | None = None) -> ImportResult:
    """Features of one polygon layer of a GeoPackage in EPSG:4490, geometry as drawn (never repaired)."""
    path = Path(path)
    problems: list[ImportProblem] = []
    with closing(_connect(path)) as conn:
        table, column, geom_type, srs_id = _layer(conn, path, layer)
        if geom_type not in _POLYGONAL:
            raise InputError("not_polygon", f"网格边界必须是面（Polygon）图层，此图层是{geom_type}图层。",
                             f"grid boundaries must be a polygon layer; this layer holds {geom_type}")
        epsg, assumed = _epsg(conn, srs_id, crs)
        try:
            cur = conn.execute(f'SELECT * FROM "{table.replace(chr(34), chr(34) * 2)}"')
            rows = cur.fetchall()
        except sqlite3.DatabaseError as e:
            raise _unreadable(path, str(e)) from None
        names = [d[0] for d in cur.description]
    pk = {names.index(n) for n in names if n.lower() in ("fid", "ogc_fid", "objectid")}
    at = names.index(column)
    attr_names = [n for i, n in enumerate(names) if i != at and i not in pk]
    attr_rows = [[v for i, v in enumerate(r) if i != at and i not in pk] for r in rows]
    cols = locate_fields(attr_names, mapping or FieldMapping())
    kept, geoms = _geometries(rows, at, problems)
    _refuse_non_polygons(geoms, kept)
    geoms = transform(geoms, epsg, CGCS2000)  # type: ignore[arg-type]  # vectorised over the array
    check_extent(geoms, kept, assumed)
    features = [build_feature(attr_rows[r], cols, attr_names, g) for r, g in zip(kept, geoms)]
    return ImportResult(features, epsg, "UTF-8", problems)


# ---------------------------------------------------------------- export
def _blob(geom: Polygon | MultiPolygon, srs_id: int) -> bytes:
    geom = MultiPolygon([geom]) if isinstance(geom, Polygon) else geom  # the layer is declared MULTIPOLYGON
    minx, miny, maxx, maxy = geom.bounds
    header = b"GP" + struct.pack("<BBi4d", 0, 0b0000_0011, srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1, output_dimension=2)


def write_grids_gpkg(path: str | Path, features: Sequence[GridFeature], *, epsg: int = CGCS2000,
                     layer: str = "grids") -> Path:
    """A GeoPackage 1.2 with one MultiPolygon layer (code, name, community, type) in ``epsg``."""
    definition = prj_for_epsg(epsg)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", layer):
        raise InputError("bad_layer_name", f"图层名“{layer}”只能包含字母、数字和下划线",
                         f"layer name {layer!r}: letters, digits and underscores only")
    path = Path(path)
    path.unlink(missing_ok=True)
    geoms = transform(np.array([f.geometry for f in features], dtype=object), CGCS2000, epsg)  # type: ignore[arg-type]
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(f"PRAGMA application_id = {0x47504B47}")
        conn.execute("PRAGMA user_version = 10200")
        conn.executescript(f"""
            CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
              organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
              description TEXT);
            CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
              description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT
              (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
              srs_id INTEGER);
            CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
              geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
              PRIMARY KEY (table_name, column_name));
            CREATE TABLE "{layer}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, code TEXT, name TEXT,
              community TEXT, type TEXT);
        """)
        conn.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, NULL)", [
            ("Undefined cartesian SRS", -1, "NONE", -1, "undefined"),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined"),
            (f"EPSG:{epsg}", epsg, "EPSG", epsg, definition),
        ])
        conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?, 'features', ?, ?)",
                     (layer, layer, epsg))
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', ?, 0, 0)", (layer, epsg))
        conn.executemany(f'INSERT INTO "{layer}" (geom, code, name, community, type) VALUES (?, ?, ?, ?, ?)', [
            (_blob(g, epsg), f.code, f.name, f.community_code, f.grid_type) for f, g in zip(features, geoms)])
    return path
