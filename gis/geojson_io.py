"""Grid and boundary polygons from GeoJSON, with json and shapely.

RFC 7946 GeoJSON is longitude/latitude on WGS 84; we take it as CGCS2000 (EPSG:4490), which
differs from WGS 84 by centimetres (FACTS.md), exactly as the shapefile path converts EPSG:4326.
Older files (the 2008 draft) may name another CRS in a top-level "crs" member: a supported one is
honoured, any other refused by name. Features without a polygon are listed, never dropped silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon, shape

from common.errors import InputError
from gis.crs import CGCS2000, WGS84, is_supported, transform
from gis.prj import SUPPORTED_EN, SUPPORTED_ZH, prj_for_epsg
from gis.shapefile_io import FieldMapping, ImportProblem, ImportResult, build_feature, check_extent, locate_fields, note

_EPSG_NAME = re.compile(r"EPSG:+(?:[0-9.]*:)?(\d+)$", re.I)  # EPSG:4490, urn:ogc:def:crs:EPSG::4490


def _load(path: Path) -> tuple[Any, str]:
    if not path.is_file():
        raise InputError("missing_file", f"找不到文件：{path}", f"file not found: {path}")
    data = path.read_bytes()
    for codec, label in (("utf-8-sig", "UTF-8"), ("gb18030", "GBK")):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError("unknown_encoding", "GeoJSON文件既不是UTF-8也不是GBK编码，请另存为UTF-8",
                         "the GeoJSON file is neither UTF-8 nor GBK; save it as UTF-8")
    try:
        return json.loads(text), label
    except (json.JSONDecodeError, RecursionError) as e:
        raise InputError("unreadable_geojson", f"GeoJSON文件{path.name}不是有效的JSON：{e}",
                         f"{path.name} is not valid JSON: {e}") from None


def _declared_epsg(doc: dict[str, Any], crs: int | None) -> tuple[int, str]:
    """EPSG:4490 for RFC 7946 files; a 2008-style "crs" member may name another supported CRS.
    ``crs`` (the caller's) must agree: GeoJSON always says, or implies, its own."""
    member = doc.get("crs") if isinstance(doc, dict) else None
    name = ((member.get("properties") or {}).get("name")) if isinstance(member, dict) else None
    declared = CGCS2000
    if isinstance(name, str) and not name.strip().upper().endswith("CRS84"):  # CRS84: lon/lat, the default
        m = _EPSG_NAME.search(name.strip())
        if m is None or not is_supported(int(m.group(1))):
            raise InputError("unsupported_crs", f"不支持的坐标系：{name}。仅支持{SUPPORTED_ZH}。",
                             f"unsupported coordinate reference system: {name}; supported are {SUPPORTED_EN}")
        declared = int(m.group(1))
    if crs is not None and crs != declared and {crs, declared} != {CGCS2000, WGS84}:
        prj_for_epsg(crs)  # an unsupported one is refused by name first
        raise InputError("crs_mismatch", f"GeoJSON的坐标是EPSG:{declared}，与指定的EPSG:{crs}不一致，请确认后重试。",
                         f"the GeoJSON is in EPSG:{declared} but EPSG:{crs} was given; check which is right")
    return declared, f"EPSG:{declared} (GeoJSON)"


def _features(doc: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" and isinstance(doc.get("features"), list):
        return doc["features"]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return [doc]
    raise InputError("unreadable_geojson", f"GeoJSON文件{path.name}不是要素集合（FeatureCollection）",
                     f"{path.name} is not a GeoJSON FeatureCollection")


def read_grids_geojson(path: str | Path, *, mapping: FieldMapping | None = None,
                       crs: int | None = None) -> ImportResult:
    """Polygon features of a GeoJSON FeatureCollection in EPSG:4490, geometry as drawn (never repaired)."""
    path = Path(path)
    doc, encoding = _load(path)
    features = _features(doc, path)
    epsg, assumed = _declared_epsg(doc, crs)
    problems: list[ImportProblem] = []
    names: list[str] = []
    for f in features:  # the union of property names, in order of first appearance
        for key in (f.get("properties") or {}) if isinstance(f, dict) else ():
            if key not in names:
                names.append(str(key))
    cols = locate_fields(names, mapping or FieldMapping())
    kept, geoms, rows = [], [], []
    for rec, f in enumerate(features):
        try:
            geom = shape(f["geometry"]) if isinstance(f, dict) and f.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            note(problems, rec, "unreadable_geometry", f"的几何无法读取（{e}），未导入", f"unreadable geometry ({e}); skipped")
            continue
        if geom is None or geom.is_empty:
            note(problems, rec, "null_shape", "没有几何图形，未导入", "no geometry; skipped")
            continue
        if not isinstance(geom, (Polygon, MultiPolygon)):
            raise InputError("not_polygon", f"网格边界必须是面（Polygon），第{rec + 1}个要素是{geom.geom_type}。",
                             f"grid boundaries must be polygons; feature {rec + 1} is a {geom.geom_type}")
        props = f.get("properties") or {}
        kept.append(rec)
        geoms.append(geom)
        rows.append([props.get(n) for n in names])
    arr = transform(np.array(geoms, dtype=object), epsg, CGCS2000)  # type: ignore[arg-type]
    check_extent(arr, kept, assumed)
    out = [build_feature(row, cols, names, g) for row, g in zip(rows, arr)]
    return ImportResult(out, epsg, encoding, problems)
