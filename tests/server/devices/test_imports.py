"""Bulk registration from a 点位台账: Chinese headers, GBK CSV, xlsx, row errors, all or nothing."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook

from devices import credentials
from gis.datum import wgs84_to_bd09
from server import sheets
from server.devices import imports, service
from tests.server.devices.conftest import GRID_A, GRID_C, centre, headers
from tests.conftest import NOW

HEADER = ["设备编码*", "国标编码", "设备名称*", "设备类型*", "经度", "纬度", "坐标系", "安装日期", "权属单位", "心跳间隔（秒）"]


def _rows() -> list[list[object]]:
    a, c = centre(0, 0), centre(5, 5)
    blon, blat = wgs84_to_bd09(*c)
    return [
        ["44011200001310000101", "", "黄埔东路口", "视频监控点位", a[0], a[1], "", "2024-03-01", "黄埔分局", "60"],
        ["MJ-0001", "", "大沙社区12号门禁", "门禁", blon, blat, "bd09", "2024/5/6", "大沙街道", "30秒"],
        ["ZFW-01", "", "政法网链路1", "政法网链路", "", "", "", "", "区政法委", ""],
    ]


def _csv(rows: list[list[object]], encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *rows])
    return buf.getvalue().encode(encoding)


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_csv_import_in_either_encoding(client, world, db_session, encoding: str) -> None:  # type: ignore[no-untyped-def]
    files = {"file": ("点位台账.csv", _csv(_rows(), encoding), "text/csv")}
    r = client.post("/api/v1/devices/import", files=files, headers=headers(world, "admin"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["committed"] and report["created"] == ["44011200001310000101", "MJ-0001", "ZFW-01"]
    assert report["errors"] == [] and report["credentials"] == []
    cam = service.get_by_code(db_session=db_session, code="44011200001310000101")
    door = service.get_by_code(db_session=db_session, code="MJ-0001")
    assert cam.gb_code == cam.code and cam.grid.code == GRID_A and cam.kind == "camera"
    assert door.grid.code == GRID_C and door.heartbeat_interval_s == 30 and door.kind == "access_controller"
    assert service.get_by_code(db_session=db_session, code="ZFW-01").grid is None


def test_xlsx_import_with_typed_cells_and_secrets(db_session, world) -> None:  # type: ignore[no-untyped-def]
    rows = _rows()
    rows[0][7] = date(2024, 3, 1)
    rows[1][9] = 30
    sheet = sheets.read(_xlsx(rows), "台账.xlsx")
    report = imports.import_rows(db_session=db_session, now=NOW, sheet=sheet, issue_secrets=True)
    assert report.committed and len(report.credentials) == 3
    for cred in report.credentials:
        stored = service.get_by_code(db_session=db_session, code=cred.code)
        assert credentials.verify_secret(cred.secret, stored.secret_hash)
    cam = service.get_by_code(db_session=db_session, code="44011200001310000101")
    assert cam.installed_at.isoformat() == "2024-02-29T16:00:00+00:00"


def test_row_errors_block_the_whole_file(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    rows = _rows() + [
        ["44011200001180000102", "", "NVR", "摄像机", "", "", "", "", "", ""],  # type 118 is not a camera
        ["MJ-0001", "", "重复", "门禁", "", "", "", "", "", ""],  # duplicate in file
        ["CAM-A", "", "已登记", "camera", "", "", "", "", "", ""],  # already registered
        ["X-1", "", "x", "烤面包机", "", "", "", "", "", ""],
        ["X-2", "", "x", "link", "113.4", "", "", "", "", ""],  # lon without lat
        ["X-3", "", "x", "link", "113.4", "23.1", "beijing54", "", "", ""],
        ["X-4", "", "x", "link", "", "", "", "去年", "", ""],
        ["X-5", "", "", "link", "", "", "", "", "", ""],  # no name
        ["X-6", "", "x", "link", "", "", "", "", "", "1"],  # interval below 5 s
    ]
    files = {"file": ("t.csv", _csv(rows), "text/csv")}
    report = client.post("/api/v1/devices/import", files=files, headers=headers(world, "admin")).json()
    assert not report["committed"] and report["created"] == []
    by_row = {(e["row"], e["code"]) for e in report["errors"]}
    assert {(5, "invalid_gb28181_id"), (3, "duplicate_code"), (6, "duplicate_code"), (7, "device_exists"),
            (8, "unknown_device_kind"), (9, "invalid_value"), (10, "unknown_datum"), (11, "invalid_value"),
            (12, "invalid_value"), (13, "invalid_value")} <= by_row
    assert all(e["message_zh"] for e in report["errors"])
    assert service.get_by_code(db_session=db_session, code="ZFW-01") is None  # nothing half-imported


def test_numbers_too_big_for_python_are_row_errors(client, world) -> None:  # type: ignore[no-untyped-def]
    """date(10**20, 1, 1) and int(inf) raise OverflowError, not ValueError: both were a 500 (fuzzer)."""
    rows = [["X-1", "", "x", "link", "", "", "", "99999999999999999999-01-01", "", ""],
            ["X-2", "", "x", "link", "", "", "", "", "", "1e999"],
            ["X-3", "", "x", "link", "", "", "", "", "", "nan"]]
    files = {"file": ("t.csv", _csv(rows), "text/csv")}
    r = client.post("/api/v1/devices/import", files=files, headers=headers(world, "admin"))
    assert r.status_code == 200, r.text
    assert not r.json()["committed"]
    assert {(e["row"], e["code"]) for e in r.json()["errors"]} == {(2, "invalid_value"), (3, "invalid_value"),
                                                                  (4, "invalid_value")}


def test_dry_run_and_outside_grid_warning(db_session, world) -> None:  # type: ignore[no-untyped-def]
    far = [["FAR-1", "", "远处", "link", 113.0, 23.0, "", "", "", ""]]
    sheet = sheets.read(_csv(_rows() + far), "t.csv")
    dry = imports.import_rows(db_session=db_session, now=NOW, sheet=sheet, dry_run=True)
    assert not dry.committed and [e.code for e in dry.errors] == ["outside_grids"] and not dry.errors[0].blocking
    assert service.get_by_code(db_session=db_session, code="FAR-1") is None
    assert imports.import_rows(db_session=db_session, now=NOW, sheet=sheet).committed


def test_twenty_digit_id_typed_as_number_is_refused(db_session, world) -> None:  # type: ignore[no-untyped-def]
    rows = _rows()
    rows[0][0] = 44011200001310000101  # Excel keeps a double: the last digits are already gone
    report = imports.import_rows(db_session=db_session, now=NOW, sheet=sheets.read(_xlsx(rows), "t.xlsx"))
    assert not report.committed and report.errors[0].code == "code_as_number" and report.errors[0].column == "设备编码"


def test_missing_columns_and_bad_files(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    sheet = sheets.read("名称,经度\nx,1\n".encode(), "t.csv")
    report = imports.import_rows(db_session=db_session, now=NOW, sheet=sheet)
    assert report.errors[0].code == "missing_column" and "设备编码" in report.errors[0].message_zh
    h = headers(world, "admin")
    r = client.post("/api/v1/devices/import", files={"file": ("t.txt", b"x", "text/plain")}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_file_type"
    r = client.post("/api/v1/devices/import", files={"file": ("t.xlsx", b"not a zip", "application/zip")}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unreadable_file"
    r = client.post("/api/v1/devices/import", files={"file": ("t.csv", _csv(_rows()), "text/csv")},
                    headers=headers(world, "street1"))
    assert r.status_code == 403
