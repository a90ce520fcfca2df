from __future__ import annotations

import struct
from pathlib import Path

import pytest
import shapefile
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from common.errors import InputError
from gis.crs import area_m2, transform
from gis.prj import prj_for_epsg
from gis.shapefile_io import FieldMapping, GridFeature, codec_for, read_grids, write_grids

# Around Guangzhou (113.4E, 23.1N): GK zone 38, central meridian 114E.
X_PLAIN, Y0 = 438_000.0, 2_555_000.0
X_PREFIXED = 38_000_000.0 + X_PLAIN
LON, LAT = 113.40, 23.10

Ring = list[tuple[float, float]]


def cw(x: float, y: float, w: float, h: float) -> Ring:
    """Clockwise (shapefile outer ring) rectangle."""
    return [(x, y), (x, y + h), (x + w, y + h), (x + w, y), (x, y)]


def ccw(x: float, y: float, w: float, h: float) -> Ring:
    return cw(x, y, w, h)[::-1]


def make_shp(
    tmp_path: Path,
    shapes: list[list[Ring] | None],
    rows: list[tuple[object, ...]],
    *,
    fields: tuple[str, ...] = ("code", "name"),
    encoding: str = "utf-8",
    prj: int | None = 4490,
    cpg: str | None = None,
    stem: str = "grids",
    name_size: int = 60,
) -> Path:
    """A polygon shapefile written straight with pyshp, so tests control every byte."""
    base = tmp_path / stem
    with shapefile.Writer(base, shapeType=shapefile.POLYGON, encoding=encoding) as w:
        for name in fields:
            w.field(name, "C", name_size if name == "name" else 60)
        for rings, row in zip(shapes, rows):
            w.null() if rings is None else w.poly(rings)
            w.record(*row)
    if prj is not None:
        base.with_suffix(".prj").write_text(prj_for_epsg(prj))
    if cpg is not None:
        base.with_suffix(".cpg").write_text(cpg)
    return base.with_suffix(".shp")


def sample_features() -> list[GridFeature]:
    """A plain square, one with a hole, a two-part grid; Chinese names; real GK sizes.

    Built in OGC orientation (shells counter-clockwise), as grids are stored.
    """
    def geo(g):
        return transform(g, 4547, 4490)

    square = geo(box(X_PLAIN, Y0, X_PLAIN + 250.5, Y0 + 180.25))
    holed = geo(Polygon(ccw(X_PLAIN + 300, Y0, 200, 200), [cw(X_PLAIN + 350, Y0 + 50, 40, 30)]))
    parts = geo(MultiPolygon([box(X_PLAIN, Y0 + 300, X_PLAIN + 90, Y0 + 390),
                              box(X_PLAIN + 120, Y0 + 300, X_PLAIN + 200, Y0 + 350)]))
    return [
        GridFeature("440112001001001", "黄埔东苑第一网格", "440112001001", "综合网格", square),
        GridFeature("440112001001002", "鹿步·堃园网格", "440112001001", None, holed),
        GridFeature("440112001001003", "夏港（东区）", None, "专属网格", parts),
    ]


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("epsg", [4490, 4526, 4547])
@pytest.mark.parametrize("encoding", ["UTF-8", "GBK"])
def test_round_trip(tmp_path: Path, epsg: int, encoding: str) -> None:
    features = sample_features()
    paths = write_grids(tmp_path / "out.shp", features, epsg=epsg, encoding=encoding)
    assert [p.suffix for p in paths] == [".shp", ".shx", ".dbf", ".prj", ".cpg"]
    assert all(p.is_file() for p in paths)
    result = read_grids(paths[0])
    assert result.source_epsg == epsg
    assert result.encoding == ("utf-8" if encoding == "UTF-8" else "gbk")
    assert result.problems == []
    for want, got in zip(features, result.features, strict=True):
        assert (got.code, got.name, got.community_code, got.grid_type) == (
            want.code, want.name, want.community_code, want.grid_type)
        assert got.geometry.geom_type == want.geometry.geom_type
        assert abs(area_m2(got.geometry) - area_m2(want.geometry)) < 0.01
        # Same vertices in the same order; without reprojection every double is bit-identical.
        assert got.geometry.equals_exact(want.geometry, 0 if epsg == 4490 else 1e-10)


def test_gbk_export_has_codepage_markers(tmp_path: Path) -> None:
    paths = write_grids(tmp_path / "g", sample_features(), encoding="GBK")
    assert paths[4].read_text() == "936"
    assert paths[2].read_bytes()[29] == 0x4D


def test_export_refuses_text_the_encoding_cannot_hold(tmp_path: Path) -> None:
    feature = sample_features()[0]
    feature.name = "网格🏠"
    with pytest.raises(InputError) as exc:
        write_grids(tmp_path / "g", [feature], encoding="GBK")
    assert exc.value.code == "unencodable_text"


# ---------------------------------------------------------------- CRS


def test_missing_prj_refused_then_accepted_with_crs(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(X_PREFIXED, Y0, 100, 100)]], [("440112001001001", "甲")], prj=None)
    with pytest.raises(InputError) as exc:
        read_grids(shp)
    assert exc.value.code == "missing_prj"
    assert "--crs" in exc.value.message_zh and "--crs" in exc.value.message_en
    result = read_grids(shp, crs=4526)
    assert result.source_epsg == 4526
    assert abs(area_m2(result.features[0].geometry) - 10_000) < 0.01


def test_prj_and_crs_must_agree(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(X_PREFIXED, Y0, 100, 100)]], [("440112001001001", "甲")], prj=4526)
    assert read_grids(shp, crs=4526).source_epsg == 4526
    with pytest.raises(InputError) as exc:
        read_grids(shp, crs=4547)
    assert exc.value.code == "crs_mismatch"


def test_gk_coordinates_declared_geographic(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(X_PREFIXED, Y0, 100, 100)]], [("440112001001001", "甲")], prj=4490)
    with pytest.raises(InputError) as exc:
        read_grids(shp)
    assert exc.value.code == "coordinates_out_of_range"
    assert "EPSG:4490" in exc.value.message_en and "EPSG:4490" in exc.value.message_zh


def test_geographic_coordinates_declared_gk(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "甲")], prj=None)
    with pytest.raises(InputError) as exc:
        read_grids(shp, crs=4547)
    assert exc.value.code == "coordinates_out_of_range"
    assert "EPSG:4547" in exc.value.message_en


def test_unsupported_prj(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "甲")], prj=None)
    shp.with_suffix(".prj").write_text('PROJCS["WGS_1984_Web_Mercator_Auxiliary_Sphere"]garbage')
    with pytest.raises(InputError) as exc:
        read_grids(shp)
    assert exc.value.code == "unsupported_crs"


# ---------------------------------------------------------------- encodings


def test_gbk_without_cpg_is_detected(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "鹿步村堃园网格")],
                   encoding="gbk")
    result = read_grids(shp)
    assert result.encoding == "gbk"
    assert result.features[0].name == "鹿步村堃园网格"


def test_cpg_that_lies_falls_back_to_detection(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "夏港网格")],
                   encoding="gbk", cpg="UTF-8")
    result = read_grids(shp)
    assert (result.encoding, result.features[0].name) == ("gbk", "夏港网格")
    assert [p.kind for p in result.problems] == ["cpg_ignored"]


def test_neither_utf8_nor_gbk_refused(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "Café")],
                   encoding="latin-1")
    with pytest.raises(InputError) as exc:
        read_grids(shp)
    assert exc.value.code == "unknown_encoding"
    assert read_grids(shp, encoding="latin-1").features[0].name == "Café"


def test_explicit_encoding_is_not_second_guessed(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "夏港网格一")],
                   encoding="gbk")
    with pytest.raises(InputError) as exc:
        read_grids(shp, encoding="UTF-8")
    assert exc.value.code == "unknown_encoding"
    with pytest.raises(InputError):
        read_grids(shp, encoding="no-such-codec")


def test_utf8_cut_mid_character_stays_utf8(tmp_path: Path) -> None:
    cut = "黄埔网格".encode()[:-1].decode("latin-1")  # what a byte-truncating tool leaves
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", cut)],
                   encoding="latin-1", name_size=11)
    result = read_grids(shp)
    assert (result.encoding, result.features[0].name) == ("utf-8", "黄埔网")
    assert result.features[0].code == "440112001001001"
    assert [p.kind for p in result.problems] == ["truncated_text"]


@pytest.mark.parametrize(
    ("label", "codec"),
    [("UTF-8", "utf-8"), ("utf8", "utf-8"), ("65001", "utf-8"), ("GBK", "gbk"), ("CP936", "gbk"),
     ("936", "gbk"), ("ANSI 936", "gbk"), ("GB2312", "gbk"), ("GB18030", "gb18030"),
     ("1252", "cp1252"), ("88591", "iso8859-1"), ("8859_1", "iso8859-1"), ("ISO-8859-1", "iso8859-1"),
     (" utf-8\n", "utf-8"), ("nonsense", None)],
)
def test_codec_for(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


@pytest.mark.parametrize("cpg", ["936", "GB2312", "CP936", "GBK"])
def test_cpg_names_gbk(tmp_path: Path, cpg: str) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "萝岗")],
                   encoding="gbk", cpg=cpg)
    result = read_grids(shp)
    assert (result.encoding, result.features[0].name, result.problems) == ("gbk", "萝岗", [])


# ---------------------------------------------------------------- geometry


def test_polygon_with_hole(tmp_path: Path) -> None:
    rings = [cw(X_PREFIXED, Y0, 100, 100), ccw(X_PREFIXED + 20, Y0 + 20, 10, 10)]
    result = read_grids(make_shp(tmp_path, [rings], [("440112001001001", "甲")], prj=4526))
    geom = result.features[0].geometry
    assert isinstance(geom, Polygon) and len(geom.interiors) == 1
    assert abs(area_m2(geom) - (10_000 - 100)) < 0.01
    # stored in OGC orientation: the reverse of the shapefile's
    assert geom.exterior.is_ccw and not geom.interiors[0].is_ccw


def test_multipolygon_holes_go_to_the_shell_around_them(tmp_path: Path) -> None:
    # Shell A, shell B, then B's hole: the hole must not be given to A just because it is first.
    rings = [cw(X_PREFIXED, Y0, 100, 100), cw(X_PREFIXED + 200, Y0, 100, 100),
             ccw(X_PREFIXED + 220, Y0 + 20, 10, 10)]
    geom = read_grids(make_shp(tmp_path, [rings], [("440112001001001", "甲")], prj=4526)).features[0].geometry
    assert isinstance(geom, MultiPolygon) and geom.is_valid
    assert [len(p.interiors) for p in geom.geoms] == [0, 1]
    assert abs(area_m2(geom) - 19_900) < 0.01


def test_bow_tie_imported_unchanged(tmp_path: Path) -> None:
    bow = [(LON, LAT), (LON + 0.002, LAT + 0.002), (LON + 0.002, LAT), (LON, LAT + 0.001), (LON, LAT)]
    geom = read_grids(make_shp(tmp_path, [[bow]], [("440112001001001", "甲")])).features[0].geometry
    assert not geom.is_valid and "Self-intersection" in shapely.is_valid_reason(geom)
    # every vertex kept; only the order is reversed (its signed area is clockwise)
    assert list(geom.exterior.coords) == bow[::-1]


def test_degenerate_and_unclosed_rings_are_kept_and_noted(tmp_path: Path) -> None:
    sliver = [(LON, LAT), (LON + 0.001, LAT), (LON, LAT)]  # 3 points: GEOS calls it too few
    ring = cw(LON, LAT + 0.01, 0.001, 0.001)
    shp = make_shp(tmp_path, [[sliver], [ring]], [("440112001001001", "甲"), ("440112001001002", "乙")])
    # pyshp closes rings when writing, so move the closing point in the file itself.
    data = shp.read_bytes()
    at = data.rindex(struct.pack("<2d", *ring[0]))
    shp.write_bytes(data[:at] + struct.pack("<2d", LON + 0.0005, LAT + 0.01) + data[at + 16:])
    result = read_grids(shp)
    assert shapely.get_num_coordinates(result.features[0].geometry) == 3
    assert shapely.get_num_coordinates(result.features[1].geometry) == 6
    assert [(p.record, p.kind) for p in result.problems] == [(1, "unclosed_ring")]


def test_counter_clockwise_only_ring_is_an_outer_ring(tmp_path: Path) -> None:
    geom = read_grids(make_shp(tmp_path, [[ccw(LON, LAT, 0.001, 0.001)]],
                               [("440112001001001", "甲")])).features[0].geometry
    assert isinstance(geom, Polygon) and geom.area > 0


def test_null_shapes_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)], None, [cw(LON, LAT + 0.01, 0.001, 0.001)]],
                   [("440112001001001", "甲"), ("440112001001002", "乙"), ("440112001001003", "丙")])
    result = read_grids(shp)
    assert [f.code for f in result.features] == ["440112001001001", "440112001001003"]
    assert [(p.record, p.kind) for p in result.problems] == [(1, "null_shape")]
    assert "第2条记录" in result.problems[0].message_zh


def test_point_shapefile_refused(tmp_path: Path) -> None:
    with shapefile.Writer(tmp_path / "pts", shapeType=shapefile.POINT) as w:
        w.field("code", "C", 15)
        w.point(LON, LAT)
        w.record("440112001001001")
    with pytest.raises(InputError) as exc:
        read_grids(tmp_path / "pts.shp", crs=4490)
    assert exc.value.code == "not_polygon"


# ---------------------------------------------------------------- fields and files


def test_custom_field_mapping_case_insensitive(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]],
                   [("440112001001001", "甲", "440112001001", "综合", "张三")],
                   fields=("WGBM", "WGMC", "SQBM", "LX", "FZR"))
    mapping = FieldMapping(code="wgbm", name="wgmc", community="sqbm", grid_type="lx")
    f = read_grids(shp, mapping=mapping).features[0]
    assert (f.code, f.name, f.community_code, f.grid_type) == ("440112001001001", "甲", "440112001001", "综合")
    assert f.attributes == {"FZR": "张三"}


def test_chinese_default_field_names(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]],
                   [("440112001001001", "黄埔网格", "440112001001", "综合网格")],
                   fields=("网格编码", "网格名称", "社区编码", "网格类型"), encoding="gbk")
    f = read_grids(shp).features[0]
    assert (f.code, f.name, f.community_code, f.grid_type) == (
        "440112001001001", "黄埔网格", "440112001001", "综合网格")


def test_missing_field_names_what_is_there(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "甲")],
                   fields=("BM", "MC"))
    with pytest.raises(InputError) as exc:
        read_grids(shp)
    assert exc.value.code == "missing_field"
    assert "BM, MC" in exc.value.message_en and "BM, MC" in exc.value.message_zh


def test_numeric_code_field_keeps_all_digits(tmp_path: Path) -> None:
    with shapefile.Writer(tmp_path / "num", shapeType=shapefile.POLYGON) as w:
        w.field("code", "N", 18, 0)
        w.field("name", "C", 20)
        w.poly([cw(LON, LAT, 0.001, 0.001)])
        w.record(440112001001001, "甲")
    (tmp_path / "num.prj").write_text(prj_for_epsg(4490))
    assert read_grids(tmp_path / "num.shp").features[0].code == "440112001001001"


def test_upper_case_extensions_and_progress(tmp_path: Path) -> None:
    shapes = [[cw(LON + i * 0.001, LAT, 0.001, 0.001)] for i in range(1200)]
    rows = [(f"440112001001{i % 999 + 1:03d}", f"网格{i}") for i in range(1200)]
    shp = make_shp(tmp_path, shapes, rows)
    for p in list(tmp_path.iterdir()):
        p.rename(p.with_suffix(p.suffix.upper()))
    calls: list[tuple[int, int]] = []
    result = read_grids(tmp_path / "grids.SHP", progress=lambda done, total: calls.append((done, total)))
    assert len(result.features) == 1200
    assert calls == [(500, 1200), (1000, 1200), (1200, 1200)]


def test_missing_dbf_refused(tmp_path: Path) -> None:
    shp = make_shp(tmp_path, [[cw(LON, LAT, 0.001, 0.001)]], [("440112001001001", "甲")])
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(InputError) as exc:
        read_grids(shp)
    assert exc.value.code == "missing_dbf"


def test_dotted_names_keep_their_dot(tmp_path: Path) -> None:
    paths = write_grids(tmp_path / "黄埔区.2024.shp", sample_features())
    assert [p.name for p in paths][:2] == ["黄埔区.2024.shp", "黄埔区.2024.shx"]
    assert len(read_grids(paths[0]).features) == 3


def test_empty_layer_round_trips(tmp_path: Path) -> None:
    paths = write_grids(tmp_path / "empty", [])
    result = read_grids(paths[0])
    assert (result.features, result.problems) == ([], [])
