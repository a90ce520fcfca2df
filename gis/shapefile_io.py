"""Grid boundaries in and out of ESRI Shapefiles, with pure-Python pyshp.

Shapefiles reach us from surveying bureaus and street offices with missing .prj files,
GBK attributes without a .cpg and hand-digitised polygons that are not valid. Import never
guesses a CRS, never repairs geometry (the topology check must see the defects) and never
drops a record without listing it in ``ImportResult.problems``.

Field names: ``FieldMapping`` names the source attributes (matched case-insensitively). With
``chinese_fallbacks`` (the default) the Chinese names 网格编码/网格名称/社区编码/网格类型 are
also accepted, and so are 网格编/网格名/社区编/网格类: in UTF-8 the full names take 12 bytes,
over the 10-byte dBASE limit, so tools writing UTF-8 files cut them to these three characters.
"""

from __future__ import annotations

import codecs
import itertools
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapefile
import shapely
from shapely.geometry import MultiPolygon, Polygon

from common.errors import InputError
from gis.crs import CGCS2000, is_supported, transform
from gis.prj import epsg_from_prj, prj_for_epsg

CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)
PROGRESS_EVERY = 500
MAX_TEXT_BYTES = 254  # dBASE character field limit
LDID_CP936 = 0x4D  # dBASE language driver id ArcGIS reads as code page 936 (GBK)
_POLYGON_TYPES = frozenset({shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM})
_OUT_FIELDS = ("code", "name", "community", "type")
_CHINESE_FALLBACKS = {"code": ("网格编码", "网格编"), "name": ("网格名称", "网格名"),
                      "community": ("社区编码", "社区编"), "grid_type": ("网格类型", "网格类")}
_REQUIRED = ("code", "name")
# GB2312-labelled files routinely hold GBK-only characters in names (堃, 赟), so read as GBK.
_CODEC_ALIASES = {"utf8": "utf-8", "65001": "utf-8", "cp936": "gbk", "936": "gbk", "gb2312": "gbk",
                  "54936": "gb18030"}


@dataclass
class GridFeature:
    code: str
    name: str
    community_code: str | None
    grid_type: str | None
    geometry: Polygon | MultiPolygon  # EPSG:4490
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldMapping:
    """Source attribute names; see the module docstring for the Chinese fallbacks. ``fallbacks``
    replaces the grid layer's Chinese names for another layer (COMMUNITY_FIELDS)."""

    code: str = "code"
    name: str = "name"
    community: str = "community"
    grid_type: str = "type"
    chinese_fallbacks: bool = True
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _CHINESE_FALLBACKS)

    def candidates(self, target: str) -> tuple[str, ...]:
        fallbacks = self.fallbacks.get(target, ()) if self.chinese_fallbacks else ()
        return (getattr(self, target), *fallbacks)


# A community boundary layer: the 12-digit community code and its name, as contractors label them.
COMMUNITY_FIELDS = FieldMapping(fallbacks={
    "code": ("社区编码", "社区代码", "村居编码", "统计用区划代码", "区划代码", "社区编", "社区代"),
    "name": ("社区名称", "村居名称", "名称", "社区名"),
})


@dataclass
class ImportProblem:
    """A record-level defect that did not stop the import; ``record`` is 0-based."""

    record: int | None
    kind: str
    message_zh: str
    message_en: str


@dataclass
class ImportResult:
    features: list[GridFeature]
    source_epsg: int
    encoding: str
    problems: list[ImportProblem] = field(default_factory=list)


def note(problems: list[ImportProblem], rec: int | None, kind: str, zh: str, en: str) -> None:
    """Append a problem numbered as users count records (from 1)."""
    where_zh, where_en = ("", "") if rec is None else (f"第{rec + 1}条记录", f"record {rec + 1}: ")
    problems.append(ImportProblem(rec, kind, where_zh + zh, where_en + en))


# ---------------------------------------------------------------- files, CRS, encoding
def _siblings(path: Path) -> dict[str, Path]:
    """Constituent files by lower-case extension; Windows tools mix .SHP/.dbf freely."""
    if not path.is_file():
        raise InputError("missing_file", f"找不到文件：{path}", f"file not found: {path}")
    exts = (".shp", ".shx", ".dbf", ".prj", ".cpg")
    found: dict[str, Path] = {}
    for exact in (True, False):
        for p in sorted(path.parent.iterdir()):
            same = p.stem == path.stem if exact else p.stem.casefold() == path.stem.casefold()
            if same and p.suffix.lower() in exts:
                found.setdefault(p.suffix.lower(), p)
    for ext, zh in ((".shp", "几何文件"), (".dbf", "属性文件")):
        if ext not in found:
            raise InputError(f"missing_{ext[1:]}", f"缺少{zh}{path.stem}{ext}",
                                f"{path.stem}{ext} is missing")
    return found


def _resolve_epsg(prj: Path | None, crs: int | None) -> tuple[int, str]:
    """Source EPSG code and where it came from, refusing to guess when nothing says."""
    if crs is not None and not is_supported(crs):
        prj_for_epsg(crs)  # raises unsupported_crs, worded once in gis.prj
    if prj is None:
        if crs is None:
            raise InputError(
                "missing_prj", "缺少.prj坐标系文件，无法确定坐标系。请补充.prj文件，或用--crs指定EPSG代码（如4490、4526）。",
                "the .prj file is missing, so the CRS is unknown; add it or pass --crs EPSG (e.g. 4490)",
            )
        return crs, f"EPSG:{crs} (--crs)"
    declared = epsg_from_prj(prj.read_bytes().decode("utf-8", "replace"))
    if crs is not None and crs != declared:
        raise InputError(
            "crs_mismatch",
            f".prj文件声明的坐标系是EPSG:{declared}，与指定的EPSG:{crs}不一致，请确认后重试。",
            f"the .prj declares EPSG:{declared} but EPSG:{crs} was given; check which is right",
        )
    return declared, f"EPSG:{declared} (.prj)"


def codec_for(label: str) -> str | None:
    """Python codec for a .cpg / user encoding label (UTF-8, 936, ANSI 936, CP936, 8859_1…)."""
    key = re.sub(r"[\s_\-]", "", label.strip().lower()).removeprefix("ansi")
    key = _CODEC_ALIASES.get(key, key)
    if key.isdigit():
        key = f"iso8859-{key[4:]}" if key.startswith("8859") else f"cp{key}"
    elif key.startswith("iso8859") or key.startswith("8859"):
        key = "iso8859-" + key.removeprefix("iso").removeprefix("8859")
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _decode(raw: bytes, codec: str, width: int, truncated: list[bytes]) -> str:
    """Strict decode, except a UTF-8 character cut off by a field filled to its full width.

    Tools that truncate by bytes leave such a stub; rejecting UTF-8 for it would make the GBK
    fallback turn the whole file into mojibake. A short value ending mid-character is not
    truncation (it is usually Latin-1), so it still fails.
    """
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as e:
        if codec != "utf-8" or e.reason != "unexpected end of data" or len(raw) < width:
            raise
        truncated.append(raw)
        return raw[: e.start].decode(codec)


def _unknown_encoding(tried: str) -> InputError:
    return InputError(
        "unknown_encoding",
        f"属性表文字无法按{tried}解码。请确认文件编码，并用--encoding指定（如GBK、UTF-8）。",
        f"attribute text cannot be decoded as {tried}; pass --encoding with the right one",
    )


# ---------------------------------------------------------------- attributes
Rows = list[list[object] | None]  # None = deleted record


@dataclass
class _RawTable:
    """The .dbf read once as latin-1, which maps bytes 1:1, so any codec can be tried later."""

    names: list[bytes]
    widths: list[int]
    rows: Rows

    @classmethod
    def read(cls, reader: shapefile.Reader) -> _RawTable:
        rows = [None if rec is None else [v.encode("latin-1") if isinstance(v, str) else v for v in rec]
                for rec in reader.iterRecords(deleted_as_None=True)]
        fields = reader.data_fields
        return cls([f.name.encode("latin-1") for f in fields], [f.size for f in fields], rows)

    def decode(self, codec: str) -> tuple[list[str], Rows, int]:
        cut: list[bytes] = []
        widths = self.widths
        rows = [None if r is None else [_decode(v, codec, w, cut) if isinstance(v, bytes) else v
                                        for v, w in zip(r, widths)] for r in self.rows]
        return [_decode(n, codec, 10, cut).strip() for n in self.names], rows, len(cut)


def _choose_codec(
    raw: _RawTable, explicit: str | None, cpg: Path | None, problems: list[ImportProblem]
) -> tuple[str, list[str], Rows]:
    """Decode with the caller's encoding, else the .cpg's, else UTF-8, else GBK."""
    if explicit is not None:
        order = [(codec_for(explicit), explicit, True)]
    else:
        order = []
        if cpg is not None:
            label = cpg.read_bytes().decode("ascii", "replace").strip()
            order.append((codec_for(label), f".cpg “{label}”", False))
        order += [("utf-8", "UTF-8", False), ("gbk", "GBK", False)]
    for codec, source, must in order:
        try:
            if codec is None:
                raise LookupError(source)
            names, rows, n_truncated = raw.decode(codec)
        except (LookupError, UnicodeDecodeError):
            if must:
                raise _unknown_encoding(source) from None
            if source.startswith(".cpg"):
                note(problems, None, "cpg_ignored", f"{source}无法识别或与属性内容不符，已自动检测编码",
                      f"{source} is unknown or does not fit the attributes; detected instead")
            continue
        if n_truncated:
            note(problems, None, "truncated_text", f"{n_truncated}个文字值末尾的残缺字符已去除",
                  f"dropped a cut-off character at the end of {n_truncated} values")
        return codec, names, rows
    raise _unknown_encoding("UTF-8 / GBK")


def locate_fields(names: list[str], mapping: FieldMapping) -> dict[str, int]:
    """Column index per target; the first matching candidate name wins."""
    folded = {n.casefold(): i for i, n in reversed(list(enumerate(names)))}
    found: dict[str, int] = {}
    for target in ("code", "name", "community", "grid_type"):
        for cand in mapping.candidates(target):
            if (i := folded.get(cand.strip().casefold())) is not None:
                found[target] = i
                break
    missing = [t for t in _REQUIRED if t not in found]
    if missing:
        wanted = "; ".join(f"{t}: {'/'.join(mapping.candidates(t))}" for t in missing)
        present = ", ".join(names) or "(none)"
        raise InputError(
            "missing_field",
            f"属性表缺少必需字段（{wanted}）。现有字段：{present}。可用字段映射指定字段名。",
            f"required attribute field missing ({wanted}); fields present: {present}",
        )
    return found


def _text(value: object) -> str:
    """dBASE numeric codes come back as int/float; 15-digit codes must stay exact strings."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


# ---------------------------------------------------------------- geometry
def _signed_area(ring: np.ndarray) -> float:
    """Shoelace over a closed ring; negative = clockwise (a shapefile outer ring)."""
    x, y = ring[:, 0] - ring[0, 0], ring[:, 1] - ring[0, 1]  # near 0: no cancellation
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _owner(hole: np.ndarray, shells: list[np.ndarray]) -> int | None:
    """Smallest shell covering the hole, or None when no shell does (an orphan hole)."""
    ring = shapely.linearrings(hole) if len(hole) >= 4 else shapely.linestrings(hole)
    best: tuple[float, int] | None = None
    for i, shell in enumerate(shells):
        poly = shapely.polygons(shell) if len(shell) >= 4 else None
        if poly is not None and shapely.covers(poly, ring):
            if best is None or poly.area < best[0]:
                best = (poly.area, i)
    return None if best is None else best[1]


def _organise(rings: list[np.ndarray], rec: int, problems: list[ImportProblem]) -> list[list[np.ndarray]]:
    """[shell, *holes] per polygon: clockwise (or zero-area) rings are shells, others holes.

    Rings come back in OGC orientation (shells counter-clockwise, holes clockwise), the exact
    reverse of the shapefile's, so exporting and re-importing a grid returns its coordinates
    in their original order. Reversal keeps every vertex; zero-area rings are left as read.
    """
    areas = [_signed_area(r) for r in rings]
    is_shell = [a <= 0 for a in areas]
    if len(rings) == 1 or not any(is_shell):  # a lone ring, or a writer that ignores orientation
        is_shell = [True] * len(rings)
    ogc = [r[::-1] if (a < 0 if s else a > 0) else r for r, a, s in zip(rings, areas, is_shell)]
    shells = [r for r, s in zip(ogc, is_shell) if s]
    polys = [[s] for s in shells]
    for hole in (r for r, s in zip(ogc, is_shell) if not s):
        owner = 0 if len(shells) == 1 else _owner(hole, shells)
        if owner is None:
            owner = 0  # kept (invalid) so the topology check reports it
            note(problems, rec, "orphan_hole", "有不在任何外环内的内环", "hole outside every outer ring")
        polys[owner].append(hole)
    return polys


def _rings(shape: shapefile.Shape, rec: int, problems: list[ImportProblem]) -> list[np.ndarray]:
    """Rings as float arrays; unclosed rings are closed (GEOS cannot hold them) and noted."""
    pts = np.asarray(shape.points, dtype="<f8").reshape(-1, 2)
    bounds = [*shape.parts, len(pts)]
    rings = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        ring = pts[a:b]
        if len(ring) == 0:
            continue
        if ring[0, 0] != ring[-1, 0] or ring[0, 1] != ring[-1, 1]:
            ring = np.vstack([ring, ring[:1]])
            note(problems, rec, "unclosed_ring", "的环未闭合，已补闭合点", "unclosed ring; closing point added")
        rings.append(ring)
    return rings


def _wkb(polys: list[list[np.ndarray]]) -> bytes:
    """WKB keeps degenerate rings (< 4 points) that shapely's constructors would pad."""

    def polygon(rings: list[np.ndarray]) -> bytes:
        body = b"".join(struct.pack("<I", len(r)) + np.ascontiguousarray(r).tobytes() for r in rings)
        return struct.pack("<BII", 1, 3, len(rings)) + body

    if len(polys) == 1:
        return polygon(polys[0])
    return struct.pack("<BII", 1, 6, len(polys)) + b"".join(polygon(p) for p in polys)


def check_extent(geoms: np.ndarray, records: list[int], assumed: str) -> None:
    """Reprojected grids must be in China; otherwise the assumed CRS is wrong, not the data.
    ``assumed`` names the CRS and where it came from, e.g. "EPSG:4490 (.prj)"."""
    b = shapely.bounds(geoms).reshape(-1, 4)
    bad = ~np.isfinite(b).all(axis=1) | (b[:, 0] < CHINA_LON[0]) | (b[:, 2] > CHINA_LON[1])
    bad |= (b[:, 1] < CHINA_LAT[0]) | (b[:, 3] > CHINA_LAT[1])
    if not bad.any():
        return
    i = int(np.argmax(bad))
    where = f"lon {b[i, 0]:.6g}..{b[i, 2]:.6g}, lat {b[i, 1]:.6g}..{b[i, 3]:.6g}"
    raise InputError(
        "coordinates_out_of_range",
        f"按坐标系{assumed}换算后，第{records[i] + 1}条记录位于{where}，不在中国范围内"
        f"（经度73-136，纬度3-54）。坐标系很可能不对，例如高斯投影坐标被声明为经纬度或相反，"
        f"请核对.prj或--crs。",
        f"assuming {assumed}, record {records[i] + 1} lands at {where}, outside China "
        f"(lon 73-136, lat 3-54); the CRS is probably wrong (projected GK coordinates declared "
        f"as geographic or vice versa) — check the .prj or --crs",
    )


# ---------------------------------------------------------------- import
def _open_reader(files: dict[str, Path], stack: ExitStack) -> shapefile.Reader:
    """pyshp gets open files, not a path: it would pick its own siblings and read the .cpg."""
    handles = {ext[1:]: stack.enter_context(files[ext].open("rb")) for ext in (".shp", ".shx", ".dbf")
               if ext in files}
    reader = shapefile.Reader(encoding="latin-1", **handles)
    if reader.shapeType not in _POLYGON_TYPES:
        raise InputError(
            "not_polygon",
            f"网格边界必须是面（Polygon）图层，此文件是{reader.shapeTypeName}图层。",
            f"grid boundaries must be a polygon layer; this file holds {reader.shapeTypeName}",
        )
    return reader


def build_feature(row: Sequence[object], cols: dict[str, int], names: list[str], geom: Polygon) -> GridFeature:
    def get(target: str) -> str | None:
        return (_text(row[cols[target]]) or None) if target in cols else None

    used = set(cols.values())
    attributes = {n: v for i, (n, v) in enumerate(zip(names, row)) if i not in used}
    return GridFeature(get("code") or "", get("name") or "", get("community"), get("grid_type"),
                       geom, attributes)


def _read_shapes(
    reader: shapefile.Reader,
    rows: Rows,
    problems: list[ImportProblem],
    progress: Callable[[int, int], None] | None,
) -> tuple[list[int], list[bytes]]:
    """(record index, WKB) of every usable shape; null shapes and deleted rows are noted."""
    total = len(rows)
    kept: list[int] = []
    wkbs: list[bytes] = []
    rec = -1
    for rec, shape in enumerate(itertools.islice(reader.iterShapes(), total + 1)):
        if rec == total:
            break
        if progress is not None and rec and rec % PROGRESS_EVERY == 0:
            progress(rec, total)
        if rows[rec] is None:
            note(problems, rec, "deleted_record", "已标记删除，未导入", "marked deleted; skipped")
            continue
        rings = [] if shape.shapeType == shapefile.NULL else _rings(shape, rec, problems)
        if not rings:
            note(problems, rec, "null_shape", "没有几何图形，未导入", "no geometry (null shape); skipped")
            continue
        kept.append(rec)
        wkbs.append(_wkb(_organise(rings, rec, problems)))
    if rec + 1 != total:
        raise InputError(
            "record_count_mismatch",
            f"几何记录数与属性记录数（{total}）不一致，文件可能不完整。",
            f"the number of shapes differs from the {total} attribute rows; the shapefile is incomplete",
        )
    if progress is not None:
        progress(total, total)
    return kept, wkbs


def _geometries(
    kept: list[int], wkbs: list[bytes], problems: list[ImportProblem]
) -> tuple[list[int], np.ndarray]:
    """Parse all WKB in one call; GEOS refuses only rings it cannot hold at all (1-2 points)."""
    geoms = shapely.from_wkb(wkbs, on_invalid="ignore") if wkbs else np.array([], dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    for rec in (r for r, k in zip(kept, ok) if not k):
        note(problems, rec, "unreadable_geometry", "的几何无法读取，未导入", "unreadable geometry; skipped")
    return [r for r, k in zip(kept, ok) if k], geoms[ok]


def read_grids(
    path: str | Path,
    *,
    mapping: FieldMapping | None = None,
    crs: int | None = None,
    encoding: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Grids of a polygon shapefile in EPSG:4490, geometry exactly as drawn (never repaired).

    ``progress(done, total)`` is called every ``PROGRESS_EVERY`` records and once at the end.
    """
    files = _siblings(Path(path))
    epsg, assumed = _resolve_epsg(files.get(".prj"), crs)
    problems: list[ImportProblem] = []
    try:
        with ExitStack() as stack:
            reader = _open_reader(files, stack)
            codec, names, rows = _choose_codec(_RawTable.read(reader), encoding, files.get(".cpg"), problems)
            cols = locate_fields(names, mapping or FieldMapping())
            kept, wkbs = _read_shapes(reader, rows, problems, progress)
    except (shapefile.ShapefileException, struct.error) as e:
        raise InputError("unreadable_shapefile", f"Shapefile文件已损坏或格式不正确：{e}",
                            f"the shapefile is damaged or not a shapefile: {e}") from None
    kept, geoms = _geometries(kept, wkbs, problems)
    geoms = transform(geoms, epsg, CGCS2000)  # type: ignore[arg-type]  # vectorised over the array
    check_extent(geoms, kept, assumed)
    features = [build_feature(rows[r], cols, names, g) for r, g in zip(kept, geoms)]
    problems.sort(key=lambda p: (-1 if p.record is None else p.record, p.kind))
    return ImportResult(features, epsg, codec, problems)


# ---------------------------------------------------------------- export
def _field_sizes(rows: list[tuple[str, str, str, str]], codec: str) -> list[int]:
    """Byte widths that fit every value, so pyshp never truncates a name on the way out."""
    sizes = [15, 1, 12, 1]
    for row in rows:
        for col, value in enumerate(row):
            try:
                n = len(value.encode(codec))
            except UnicodeEncodeError:
                raise InputError(
                    "unencodable_text", f"网格{row[0]}的“{value}”含有{codec}无法表示的字符，请改用UTF-8",
                    f"grid {row[0]}: {value!r} has characters {codec} cannot encode; use UTF-8") from None
            if n > MAX_TEXT_BYTES:
                raise InputError(
                    "value_too_long", f"网格{row[0]}的“{value}”超过{MAX_TEXT_BYTES}字节，Shapefile无法保存",
                    f"grid {row[0]}: {value!r} exceeds the {MAX_TEXT_BYTES}-byte dBASE limit")
            sizes[col] = max(sizes[col], n)
    return sizes


def _shp_rings(geom: Polygon | MultiPolygon) -> list[list[list[float]]]:
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    return [shapely.get_coordinates(r).tolist() for p in polys for r in (p.exterior, *p.interiors)]


def write_grids(
    path: str | Path, features: Sequence[GridFeature], *, epsg: int = 4490, encoding: str = "UTF-8"
) -> list[Path]:
    """Write .shp/.shx/.dbf/.prj/.cpg in ``epsg`` (geographic or a GK zone); returns the paths.

    Coordinates go out as full doubles and rings as drawn (only re-oriented: shells clockwise),
    so ``read_grids`` gives back the same codes, names and areas.
    """
    prj = prj_for_epsg(epsg)
    codec = codec_for(encoding)
    if codec is None:
        raise _unknown_encoding(encoding)
    base = Path(path)
    base = base.with_suffix("") if base.suffix.lower() == ".shp" else base
    base.parent.mkdir(parents=True, exist_ok=True)
    # Appended, not with_suffix(): a name like "黄埔区.2024" must keep its dot.
    paths = [base.parent / f"{base.name}{ext}" for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
    rows = [(f.code, f.name, f.community_code or "", f.grid_type or "") for f in features]
    sizes = _field_sizes(rows, codec)
    geoms = np.array([f.geometry for f in features], dtype=object)
    geoms = transform(geoms, CGCS2000, epsg)  # type: ignore[arg-type]  # vectorised over the array
    geoms = shapely.orient_polygons(geoms, exterior_cw=True)
    files = dict(zip(("shp", "shx", "dbf"), paths))  # pyshp accepts paths here, despite its hints
    with shapefile.Writer(shapeType=shapefile.POLYGON, encoding=codec, encodingErrors="strict", **files) as w:
        for name, size in zip(_OUT_FIELDS, sizes):
            w.field(name, "C", size)
        for geom, row in zip(geoms, rows):
            w.null() if geom is None or geom.is_empty else w.poly(_shp_rings(geom))
            w.record(*row)
    paths[3].write_text(prj, encoding="ascii")
    paths[4].write_text("936" if codec == "gbk" else "UTF-8" if codec == "utf-8" else encoding,
                        encoding="ascii")
    if codec == "gbk":  # ArcGIS also honours the dBASE language driver byte
        with paths[2].open("r+b") as f:
            f.seek(29)
            f.write(bytes([LDID_CP936]))
    return paths
