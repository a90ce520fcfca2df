"""The rental ledger and tenant registry import: all or nothing, encrypted and masked, logged."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from server.rentals import pii
from server.rentals.imports import LedgerFile, import_ledgers, kind_of
from server.rentals.models import PiiImport, Rental, Tenant
from tests.conftest import NOW
from tests.server.devices.conftest import GRID_A, GRID_B, GRID_C, centre, headers
from tests.server.rentals.conftest import ID_A, valid_id

RENTAL_HEADER = ["地址", "楼栋", "房间数", "房东姓名", "房东电话", "经度", "纬度", "网格编码", "是否纳管", "纳管日期"]
TENANT_HEADER = ["姓名", "证件类型", "证件号码", "联系电话", "居住地址", "门禁卡号", "入住日期"]
ID_C = valid_id("44010619850505123")


def _rentals() -> list[list[object]]:
    lon, lat = centre(2, 0)
    return [["黄埔东路1号", "A栋", 10, "陈大文", "13800138000", "", "", GRID_A, "是", "2026-03-01"],
            ["黄埔东路２号", "", 4, "林小英", "13800138001", lon, lat, "", "否", ""]]  # full-width digit


def _tenants() -> list[list[object]]:
    return [["张三", "居民身份证", ID_A, "13700137000", "黄埔东路1号", "", "2026-04-01"],
            ["李四", "身份证", ID_C, "", "黄埔东路 2号", "C-1", ""]]  # spaces and widths folded when matching


def _xlsx(header: list[str], rows: list[list[object]]) -> bytes:
    wb = Workbook()
    wb.active.append(header)
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _csv(header: list[str], rows: list[list[object]], encoding: str) -> bytes:
    return "\r\n".join(",".join(map(str, r)) for r in [header, *rows]).encode(encoding)


def _run(db_session, rentals=None, tenants=None, *, apply=True, user=None):  # type: ignore[no-untyped-def]
    return import_ledgers(
        db_session=db_session, now=NOW, apply=apply, user=user, actor="cli:test", channel="cli",
        rentals=LedgerFile("出租屋台账.xlsx", _xlsx(RENTAL_HEADER, rentals)) if rentals is not None else None,
        tenants=LedgerFile("来穗人员.xlsx", _xlsx(TENANT_HEADER, tenants)) if tenants is not None else None)


def _count(db_session, model) -> int:  # type: ignore[no-untyped-def]
    return db_session.scalar(select(func.count()).select_from(model))


def test_good_files_written_encrypted_and_logged(db_session, world) -> None:  # type: ignore[no-untyped-def]
    dry = _run(db_session, _rentals(), _tenants(), apply=False)
    assert (dry.rentals_new, dry.tenants_new, dry.committed) == (2, 2, False) and not dry.rental_errors + dry.tenant_errors
    assert _count(db_session, Rental) == 0 and _count(db_session, PiiImport) == 0
    report = _run(db_session, _rentals(), _tenants())
    assert report.committed, report
    rentals = {r.address: r for r in db_session.scalars(select(Rental))}
    assert rentals["黄埔东路1号"].grid.code == GRID_A and rentals["黄埔东路1号"].managed
    assert rentals["黄埔东路２号"].grid.code == GRID_B and not rentals["黄埔东路２号"].managed  # placed by its point
    zhang = db_session.scalar(select(Tenant).where(Tenant.name == "张三"))
    assert zhang.rental_id == rentals["黄埔东路1号"].id and zhang.status == "registered"
    assert ID_A not in zhang.id_number_enc and pii.decrypt(zhang.id_number_enc) == ID_A  # encrypted at rest
    assert zhang.id_number_hash == pii.id_hash(ID_A)
    assert db_session.scalar(select(Tenant.rental_id).where(Tenant.name == "李四")) == rentals["黄埔东路２号"].id
    logs = list(db_session.scalars(select(PiiImport).order_by(PiiImport.id)))
    assert [(x.filename, x.rentals, x.tenants, x.actor, len(x.sha256)) for x in logs] == [
        ("出租屋台账.xlsx", 2, 0, "cli:test", 64), ("来穗人员.xlsx", 0, 2, "cli:test", 64)]
    again = _run(db_session, _rentals(), _tenants())
    assert (again.rentals_unchanged, again.tenants_unchanged, again.rentals_new, again.tenants_new) == (2, 2, 0, 0)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_csv_in_either_encoding(db_session, world, encoding: str) -> None:  # type: ignore[no-untyped-def]
    rentals = LedgerFile("出租屋台账.csv", _csv(RENTAL_HEADER, _rentals(), encoding))
    assert kind_of(rentals.sheet) == "rentals"
    report = import_ledgers(db_session=db_session, rentals=rentals, tenants=None, now=NOW, apply=True, user=None,
                            actor="cli:test", channel="cli")
    assert report.committed and report.rentals_new == 2


def test_wrong_encoding_is_named(db_session, world) -> None:  # type: ignore[no-untyped-def]
    from server.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        LedgerFile("来穗人员.csv", _csv(TENANT_HEADER, _tenants(), "utf-16"))
    assert err.value.code == "unreadable_file" and "UTF-8" in err.value.message_zh and "GBK" in err.value.message_zh


def _bad(rows: list[list[object]], i: int, col: int, value: object) -> list[list[object]]:
    rows[i][col] = value
    return rows


@pytest.mark.parametrize(("rentals", "tenants", "which", "code"), [
    (_bad(_rentals(), 0, 7, "440112001001099"), _tenants(), "rental", "grid_not_found"),
    (_bad(_rentals(), 0, 7, GRID_A[:12] + "0"), _tenants(), "rental", "grid_not_found"),
    (_bad(_rentals(), 1, 5, 100.0), _tenants(), "rental", "outside_grids"),
    (_bad(_rentals(), 1, 5, 200.0), _tenants(), "rental", "invalid_coordinate"),
    (_bad(_bad(_rentals(), 1, 5, ""), 1, 6, ""), _tenants(), "rental", "no_grid"),
    ([*_rentals(), _rentals()[0]], _tenants(), "rental", "duplicate_rental"),
    (_bad(_rentals(), 0, 4, "电话"), _tenants(), "rental", "invalid_phone"),
    (_rentals(), _bad(_tenants(), 0, 2, 440106199001011234), "tenant", "id_number_as_number"),  # 18 digits typed as a number
    (_rentals(), _bad(_tenants(), 0, 2, 44010619900101123412), "tenant", "id_number_as_number"),  # 20 digits
    (_rentals(), _bad(_tenants(), 0, 2, ID_A[:-1] + "0"), "tenant", "invalid_id_number"),  # check digit
    (_rentals(), _bad(_tenants(), 0, 4, "不存在路9号"), "tenant", "unknown_rental"),
    (_rentals(), [*_tenants(), _tenants()[0]], "tenant", "duplicate_tenant"),
])
def test_bad_rows_write_nothing(db_session, world, rentals, tenants, which: str, code: str) -> None:  # type: ignore[no-untyped-def]
    report = _run(db_session, rentals, tenants)
    errors = report.rental_errors if which == "rental" else report.tenant_errors
    assert not report.committed and code in [e.code for e in errors], errors
    e = next(e for e in errors if e.code == code)
    assert e.row >= 2 and e.message_zh and e.message
    assert ID_A not in e.message + e.message_zh  # a report never shows the personal value itself
    assert _count(db_session, Rental) == 0 and _count(db_session, Tenant) == 0 and _count(db_session, PiiImport) == 0


def test_id_as_number_message(db_session, world) -> None:  # type: ignore[no-untyped-def]
    report = _run(db_session, _rentals(), _bad(_tenants(), 1, 2, 4.40106198505051e17))
    e = next(e for e in report.tenant_errors if e.code == "id_number_as_number")
    assert e.row == 3 and "文本" in e.message_zh and "precision" not in e.message and "digits" in e.message


def test_missing_column(db_session, world) -> None:  # type: ignore[no-untyped-def]
    report = import_ledgers(db_session=db_session, now=NOW, apply=True, user=None, actor="t", channel="cli",
                            rentals=None, tenants=LedgerFile("t.xlsx", _xlsx(["姓名", "证件号码"], [["张三", ID_A]])))
    assert [(e.row, e.code) for e in report.tenant_errors] == [(1, "missing_column")]
    assert "居住地址" in report.tenant_errors[0].message_zh and not report.committed


def test_api_upload_dry_run_then_apply_within_territory(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    files = {"rentals": ("出租屋台账.xlsx", _xlsx(RENTAL_HEADER, _rentals())),
             "tenants": ("来穗人员.xlsx", _xlsx(TENANT_HEADER, _tenants()))}
    r = client.post("/api/v1/rentals/import", files=files, headers=headers(world, "admin"))
    assert r.status_code == 200 and r.json()["committed"] is False and r.json()["tenants_new"] == 2, r.text
    outside = [["黄埔大道9号", "", 2, "王", "", "", "", GRID_C, "否", ""]]
    r = client.post("/api/v1/rentals/import", params={"dry_run": "false"}, headers=headers(world, "street1"),
                    files={"rentals": ("出租屋台账.xlsx", _xlsx(RENTAL_HEADER, outside))})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_forbidden"
    r = client.post("/api/v1/rentals/import", params={"dry_run": "false"}, files=files, headers=headers(world, "admin"))
    assert r.status_code == 200 and r.json()["committed"], r.text
    log = db_session.scalar(select(PiiImport).where(PiiImport.channel == "api"))
    assert log.user_id == world["users"]["admin"].id
    r = client.post("/api/v1/rentals/import", headers=headers(world, "worker"), files=files)
    assert r.status_code == 403
    _run(db_session, [["黄埔东路3号", "", 1, "周", "", "", "", GRID_A, "否", ""]], None)  # from the command line
    for who in ("admin", "auditor"):
        log = client.get("/api/v1/rentals/pii-import-log", headers=headers(world, who))
        assert log.status_code == 200, log.text
        assert [(x["actor"], x["channel"], x["rentals"], x["tenants"]) for x in log.json()] == [
            ("cli:test", "cli", 1, 0), (world["users"]["admin"].username, "api", 0, 2),
            (world["users"]["admin"].username, "api", 2, 0)]
    assert client.get("/api/v1/rentals/pii-import-log", headers=headers(world, "street1")).status_code == 403
    r = client.post("/api/v1/rentals/import", headers=headers(world, "admin"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_file"
