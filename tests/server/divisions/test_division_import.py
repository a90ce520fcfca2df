"""The statistical division list and community boundaries: good files, bad files (nothing written),
and community create / rename / retire through the API."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook
from shapely.geometry import mapping
from sqlalchemy import func, select

from gis.grid_files import read_polygons
from gis.shapefile_io import COMMUNITY_FIELDS
from server import sheets
from server.auth.enums import Role
from server.divisions import service
from server.divisions.imports import import_boundaries, import_divisions
from server.divisions.models import Community, Street
from server.errors import InvalidInput
from tests import factories, golive_sample
from tests.conftest import NOW

HEADER = ["统计用区划代码", "城乡分类代码", "名称"]
GOOD = [["440113000000", "", "番禺区"], ["440113001000", "", "市桥街道"], ["440113001001", "111", "东城社区居委会"],
        ["440113001002", "220", "大罗村村民委员会"]]


def _csv(rows: list[list[str]], encoding: str = "utf-8-sig", header: list[str] = HEADER) -> bytes:
    return "\r\n".join(",".join(r) for r in [header, *rows]).encode(encoding)


def _import(db_session, rows: list[list[str]], *, apply: bool = True, **kw):  # type: ignore[no-untyped-def]
    return import_divisions(db_session=db_session, sheet=sheets.read(_csv(rows, **kw), "区划代码.csv"), apply=apply)


def _communities(db_session) -> int:  # type: ignore[no-untyped-def]
    return db_session.scalar(select(func.count()).select_from(Community))


def test_the_sample_list_in_gbk(db_session) -> None:  # type: ignore[no-untyped-def]
    data = (golive_sample.FOLDER / "区划代码.csv").read_bytes()
    dry = import_divisions(db_session=db_session, sheet=sheets.read(data, "区划代码.csv"), apply=False)
    assert (dry.districts, dry.streets, dry.communities, dry.committed, dry.errors) == (1, 2, 4, False, [])
    assert _communities(db_session) == 0
    report = import_divisions(db_session=db_session, sheet=sheets.read(data, "区划代码.csv"), apply=True)
    assert report.committed and len(report.created) == 7
    assert service.get_community(db_session=db_session, code="440113002002").name == "横江村委会"  # kept as given
    assert service.get_district(db_session=db_session, code="440113").name == "番禺区"
    again = import_divisions(db_session=db_session, sheet=sheets.read(data, "区划代码.csv"), apply=True)
    assert again.committed and again.unchanged == 7 and again.created == []


def test_xlsx_with_codes_typed_as_numbers(db_session) -> None:  # type: ignore[no-untyped-def]
    wb = Workbook()
    wb.active.append(HEADER)
    for code, kind, name in [["440100000000", "", "广州市"], *GOOD]:
        wb.active.append([int(code), int(kind) if kind else None, name])  # 12 digits survive as a number
    buf = io.BytesIO()
    wb.save(buf)
    report = import_divisions(db_session=db_session, sheet=sheets.read(buf.getvalue(), "区划代码.xlsx"), apply=True)
    assert report.committed, report.errors
    assert [e.code for e in report.errors] == ["skipped_level"]  # the city row, noted
    assert not report.errors[0].blocking


def test_a_street_already_registered_is_a_parent(db_session) -> None:  # type: ignore[no-untyped-def]
    assert _import(db_session, GOOD[:2]).committed
    assert _import(db_session, [["440113001003", "111", "新社区"]]).committed
    assert service.get_community(db_session=db_session, code="440113001003").street.code == "440113001000"


@pytest.mark.parametrize(("rows", "code", "row"), [
    ([*GOOD, ["440113002001", "111", "孤儿社区"]], "unknown_parent", 6),  # street 440113002000 nowhere
    ([["440113001000", "", "市桥街道"]], "unknown_parent", 2),  # district 440113 nowhere
    ([*GOOD, ["440113001001", "111", "东城社区居委会"]], "duplicate_code", 4),
    ([*GOOD, ["44011300100", "", "十一位"]], "malformed_code", 6),
    ([*GOOD, ["990113001003", "", "无省"]], "malformed_code", 6),
    ([*GOOD, ["440113001003", "111", ""]], "bad_name", 6),
    ([*GOOD, ["", "111", "无代码"]], "missing_value", 6),
])
def test_bad_rows_write_nothing(db_session, rows: list[list[str]], code: str, row: int) -> None:  # type: ignore[no-untyped-def]
    report = _import(db_session, rows)
    assert not report.committed and report.created == []
    assert (row, code) in [(e.row, e.code) for e in report.errors if e.blocking], report.errors
    e = next(e for e in report.errors if e.code == code)
    assert e.message and e.message_zh and e.message != e.message_zh  # both languages
    assert _communities(db_session) == 0 and db_session.scalar(select(func.count()).select_from(Street)) == 0


def test_missing_column_and_wrong_encoding(db_session) -> None:  # type: ignore[no-untyped-def]
    report = _import(db_session, [["440113000000", "番禺区"]], header=["统计用区划代码", "区划"])
    assert [(e.row, e.code) for e in report.errors] == [(1, "missing_column")] and "名称" in report.errors[0].message_zh
    with pytest.raises(InvalidInput) as err:
        sheets.read(_csv(GOOD, encoding="utf-16"), "区划代码.csv")
    assert err.value.code == "unreadable_file" and "GBK" in err.value.message_zh


def test_stored_codes_are_not_overwritten_nor_reused(db_session) -> None:  # type: ignore[no-untyped-def]
    assert _import(db_session, GOOD).committed
    renamed = _import(db_session, [["440113001001", "111", "东城社区"]])
    assert [e.code for e in renamed.errors] == ["code_exists"] and not renamed.committed
    community = service.get_community(db_session=db_session, code="440113001001")
    service.retire_community(db_session=db_session, community=community, active_grids=[], at=NOW)
    again = _import(db_session, [["440113001001", "111", "东城社区居委会"]])
    assert [e.code for e in again.errors] == ["code_retired"] and not again.committed


def _boundary_file(tmp_path, features: list[tuple[str, object]]):  # type: ignore[no-untyped-def]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"社区编码": code, "社区名称": "x"}, "geometry": mapping(geom)}
        for code, geom in features]}
    path = tmp_path / "社区边界.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return read_polygons(path, mapping=COMMUNITY_FIELDS)


def test_boundaries_checked_like_grids(db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    factories.tree(db_session)  # district 440112, streets 001 and 002, two communities each
    c1, c2 = "440112001001", "440112001002"

    def run(features, apply=True):  # type: ignore[no-untyped-def]
        r = _boundary_file(tmp_path, features)
        return import_boundaries(db_session=db_session, features=r.features, source_epsg=r.source_epsg,
                                 encoding=r.encoding, apply=apply)

    bad = run([(c1, factories.gk_square(0, 0, size=200)), (c2, factories.gk_square(1, 0, size=150)),
               ("440112009009", factories.gk_square(5, 5))])
    assert not bad.committed
    assert sorted(f.kind for f in bad.findings) == ["overlap", "unknown_community"]
    assert service.get_community(db_session=db_session, code=c1).boundary is None
    good = run([(c1, factories.gk_square(0, 0, size=200)), (c2, factories.gk_square(1, 0, size=200))])
    assert good.committed and good.updated == [c1, c2] and good.findings == []
    assert service.get_community(db_session=db_session, code=c1).boundary is not None
    overlapping = run([("440112002001", factories.gk_square(0, 0, size=300))])  # over the stored two
    assert {tuple(f.community_codes) for f in overlapping.findings} == {(c1, "440112002001"), (c2, "440112002001")}


# ---------------------------------------------------------------- the API writes

@pytest.fixture
def tree_admins(db_session):  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    return {"admin": factories.user(db_session, Role.district_admin), "street": factories.user(db_session, Role.street_admin)}


def test_create_rename_retire_a_community(client, db_session, tree_admins) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(tree_admins["admin"])
    r = client.post("/api/v1/communities", headers=h, json={"code": "440112001007", "name": "新城社区"})
    assert r.status_code == 201 and r.json()["street_code"] == "440112001000", r.text
    r = client.patch("/api/v1/communities/440112001007", headers=h, json={"name": "新城社区居委会"})
    assert r.status_code == 200 and r.json()["name"] == "新城社区居委会"
    factories.grid(db_session, "440112001007001", factories.gk_square(9, 9))
    r = client.post("/api/v1/communities/440112001007/retire", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "community_has_grids"
    assert r.json()["error"]["detail"]["grids"] == ["440112001007001"]
    client.post("/api/v1/grids/440112001007001/retire", headers=h, json={})
    r = client.post("/api/v1/communities/440112001007/retire", headers=h)
    assert r.status_code == 200 and r.json()["retired_at"], r.text
    listed = client.get("/api/v1/communities", headers=h, params={"street_code": "440112001000"}).json()
    assert "440112001007" not in [c["code"] for c in listed]
    r = client.post("/api/v1/communities", headers=h, json={"code": "440112001007", "name": "再用"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "code_retired"
    r = client.patch("/api/v1/communities/440112001007", headers=h, json={"name": "改名"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "community_retired"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"code": "440112003001", "name": "无街道"}, 404, "street_not_found"),
    ({"code": "440112001001", "name": "重复"}, 409, "division_exists"),
    ({"code": "440112001000", "name": "街道码"}, 422, "invalid_community_code"),
    ({"code": "440113001001", "name": "外区"}, 403, "scope_forbidden"),
    ({"code": "990112001001", "name": "坏码"}, 422, "malformed_code"),
    ({"code": "4401120010", "name": "短"}, 422, "validation_error"),
])
def test_bad_community_creation(client, tree_admins, body: dict, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/communities", headers=factories.auth_headers(tree_admins["admin"]), json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


def test_only_district_admins_write(client, tree_admins) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(tree_admins["street"])
    assert client.post("/api/v1/communities", headers=h, json={"code": "440112001007", "name": "x"}).status_code == 403
    assert client.patch("/api/v1/communities/440112001001", headers=h, json={"name": "x"}).status_code == 403
