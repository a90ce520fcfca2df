"""Bulk import of the rental-housing ledger (出租屋台账) and the tenant registry export (来穗人员).

Both arrive as xlsx or CSV (UTF-8 or GBK) with Chinese headers. Every row of both files is
checked before anything is written; the import writes all of it or nothing. A rental is placed
in a grid by its 网格编码 or, without one, by its point; a tenant is placed in a rental by the
rental's address (in the same ledger or already registered). ID numbers and phones are checked,
encrypted and hashed exactly as a worker's registration is (server.rentals.pii); reports show
only row numbers and masked values. A written import leaves one pii_import_log row per file:
who, when, which file (SHA-256), how many records.

Rental columns: 地址*, 楼栋, 房间数, 房东姓名*, 房东电话, 经度, 纬度, 坐标系, 网格编码, 是否纳管, 纳管日期, 登记日期.
Tenant columns: 姓名*, 证件类型, 证件号码*, 联系电话, 居住地址*, 门禁卡号, 入住日期, 登记日期.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InputError
from server import sheets
from server.auth.models import User
from server.devices import service as devices
from server.errors import GridopsError
from server.grids.models import Grid
from server.inputs import has_control_characters
from server.rentals import pii
from server.rentals.models import PiiImport, Rental, Tenant, TenantRecord
from server.rentals.schemas import RentalImportReport, TenantStatus
from server.sheets import RowError
from server.territory import ensure_holds

RENTAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "address": ("地址", "出租屋地址", "房屋地址", "详细地址", "address"),
    "building": ("楼栋", "栋号", "building"),
    "rooms": ("房间数", "出租间数", "间数", "rooms"),
    "landlord_name": ("房东姓名", "业主姓名", "出租人", "landlord_name"),
    "landlord_phone": ("房东电话", "业主电话", "出租人电话", "landlord_phone"),
    "lon": ("经度", "lon"),
    "lat": ("纬度", "lat"),
    "datum": ("坐标系", "datum"),
    "grid": ("网格编码", "所属网格", "网格", "grid_code"),
    "managed": ("是否纳管", "纳管", "纳管状态", "managed"),
    "managed_at": ("纳管日期", "纳管时间", "managed_at"),
    "registered_at": ("登记日期", "登记时间", "created_at"),
}
RENTAL_REQUIRED = ("address", "landlord_name")
TENANT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "id_type": ("证件类型", "id_type"),
    "id_number": ("证件号码", "身份证号码", "身份证号", "公民身份号码", "id_number"),
    "phone": ("联系电话", "手机号码", "手机号", "电话", "phone"),
    "address": ("居住地址", "现住地址", "暂住地址", "出租屋地址", "地址", "address"),
    "card_no": ("门禁卡号", "卡号", "card_no"),
    "moved_in_at": ("入住日期", "入住时间", "moved_in_at"),
    "registered_at": ("登记日期", "登记时间", "registered_at"),
}
TENANT_REQUIRED = ("name", "id_number", "address")
YES = {"是", "已纳管", "纳管", "y", "yes", "true", "1"}
NO = {"否", "未纳管", "n", "no", "false", "0", ""}
ID_TYPES = {"居民身份证": "resident_id", "身份证": "resident_id", "resident_id": "resident_id"}
LABEL = {**{f: n[0] for f, n in TENANT_COLUMNS.items()}, **{f: n[0] for f, n in RENTAL_COLUMNS.items()}}
AUDITED_FIELDS = "landlord_phone,tenant_name,id_number,phone"


def address_key(address: str) -> str:
    """Addresses typed by two offices agree once full-width forms and spaces are folded away."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", address)).lower()


@dataclass
class _RentalRow:
    number: int
    address: str
    building: str | None
    rooms: int
    landlord_name: str
    landlord_phone: str | None
    point: tuple[float, float] | None
    grid_code: str | None
    managed: bool
    managed_at: datetime | None
    registered_at: datetime | None
    grid_id: int | None = None


@dataclass
class _TenantRow:
    number: int
    name: str
    id_type: str
    id_number: str
    phone: str | None
    address: str
    card_no: str | None
    moved_in_at: datetime | None
    registered_at: datetime | None


@dataclass
class LedgerFile:
    """One file to import: its name (for the log and the report), bytes, and parsed sheet."""

    filename: str
    data: bytes
    sheet: sheets.Sheet = field(init=False)

    def __post_init__(self) -> None:
        self.sheet = sheets.read(self.data, self.filename)


def kind_of(sheet: sheets.Sheet) -> str | None:
    """'tenants' for a registry export (it has ID numbers), 'rentals' for a ledger (landlords), else None."""
    if "id_number" in sheets.column_map(sheet, TENANT_COLUMNS):
        return "tenants"
    return "rentals" if "landlord_name" in sheets.column_map(sheet, RENTAL_COLUMNS) else None


def _error(row: int, column: str | None, code: str, en: str, zh: str, blocking: bool = True) -> RowError:
    return RowError(row=row, column=LABEL.get(column or "", column), code=code, message=en, message_zh=zh,
                    blocking=blocking)


def _line(values: dict[str, Any], cols: dict[str, str], key: str, limit: int) -> str | None:
    out = sheets.text(values.get(cols[key])) if key in cols else None
    if out is not None and (len(out) > limit or has_control_characters(out)):
        raise ValueError(f"{LABEL[key]}: at most {limit} characters, one line")
    return out


def _when(values: dict[str, Any], cols: dict[str, str], key: str) -> datetime | None:
    return devices.as_utc(sheets.day(values.get(cols[key]))) if key in cols else None


def _rental_row(number: int, values: dict[str, Any], cols: dict[str, str]) -> _RentalRow:
    address, landlord = _line(values, cols, "address", 256), _line(values, cols, "landlord_name", 64)
    if not address or not landlord:
        raise ValueError("地址 and 房东姓名 are required")
    phone = _line(values, cols, "landlord_phone", 32)
    lon, lat = (sheets.text(values.get(cols[k])) if k in cols else None for k in ("lon", "lat"))
    if (lon is None) != (lat is None):
        raise ValueError("give both 经度 and 纬度, or neither")
    point = devices.to_point(float(lon), float(lat), _line(values, cols, "datum", 16) or "cgcs2000") \
        if lon is not None and lat is not None else None
    managed_text = (_line(values, cols, "managed", 8) or "").lower()
    if managed_text not in YES | NO:
        raise ValueError(f"是否纳管 must be 是 or 否, not {managed_text!r}")
    rooms = sheets.text(values.get(cols["rooms"])) if "rooms" in cols else None
    if rooms is not None and not (rooms.isdigit() and 1 <= int(rooms) <= 10_000):
        raise ValueError(f"房间数 must be a whole number from 1 to 10000, not {rooms!r}")
    return _RentalRow(number, address, _line(values, cols, "building", 64), int(rooms or 1), landlord,
                      pii.check_phone(phone) if phone else None, point, _line(values, cols, "grid", 15),
                      managed_text in YES, _when(values, cols, "managed_at"), _when(values, cols, "registered_at"))


def _tenant_row(number: int, values: dict[str, Any], cols: dict[str, str]) -> _TenantRow:
    raw_id = values.get(cols["id_number"])
    if sheets.digits_as_number(raw_id):
        raise InputError("id_number_as_number", "证件号码以数字保存，超过15位的数字已丢失精度，请将该列设为文本后重新导出",
                         "the ID number is stored as a number and lost its digits beyond 15: "
                         "format the column as text and export again")
    name, number_text = _line(values, cols, "name", 64), sheets.text(raw_id)
    address = _line(values, cols, "address", 256)
    if not name or not number_text or not address:
        raise ValueError("姓名, 证件号码 and 居住地址 are required")
    id_type = ID_TYPES.get(_line(values, cols, "id_type", 16) or "居民身份证", "other")
    phone = _line(values, cols, "phone", 32)
    return _TenantRow(number, name, id_type, pii.check_id(id_type, number_text),
                      pii.check_phone(phone) if phone else None, address, _line(values, cols, "card_no", 64),
                      _when(values, cols, "moved_in_at"), _when(values, cols, "registered_at"))


def _parse(sheet: sheets.Sheet, columns: dict[str, tuple[str, ...]], required: tuple[str, ...],
           build: Any) -> tuple[list[Any], list[RowError]]:
    """Rows that parse, and an error (zh + en, never the personal value itself) for each that does not."""
    if header := sheets.missing_columns(sheet, columns, required):
        return [], [header]
    cols = sheets.column_map(sheet, columns)
    rows, errors = [], []
    for number, values in sheet.rows:
        try:
            rows.append(build(number, values, cols))
        except (InputError, GridopsError) as e:
            errors.append(_error(number, None, e.code, e.message_en, e.message_zh))
        except ValueError as e:
            errors.append(_error(number, None, "invalid_value", str(e), f"取值无效：{e}"))
    return rows, errors


def _place_rentals(db_session: Session, rows: list[_RentalRow]) -> list[RowError]:
    """Grid of each rental: its 网格编码 (an active grid), else the grid holding its point."""
    errors = []
    named = {r.grid_code for r in rows if r.grid_code}
    grids = {g.code: g for g in db_session.scalars(select(Grid).where(Grid.code.in_(named)))} if named else {}
    by_point = devices.grid_ids(db_session, [r.point if not r.grid_code else None for r in rows])
    for r, grid_id in zip(rows, by_point):
        if r.grid_code:
            grid = grids.get(r.grid_code)
            if grid is None or grid.retired_at is not None:
                errors.append(_error(r.number, "grid", "grid_not_found", f"grid {r.grid_code} does not exist "
                                     "(or is retired)", f"网格 {r.grid_code} 不存在或已撤销"))
            else:
                r.grid_id = grid.id
        elif r.point is None:
            errors.append(_error(r.number, "grid", "no_grid", "give 网格编码, or 经度 and 纬度",
                                 "请填写网格编码，或经度和纬度"))
        elif grid_id is None:
            errors.append(_error(r.number, "lon", "outside_grids", "the point is outside every grid",
                                 "坐标不在任何网格内"))
        r.grid_id = r.grid_id or grid_id
    return errors


def _stored_rentals(db_session: Session, keys: set[str]) -> dict[tuple[str, str], Rental]:
    """Let rentals already registered at these addresses, by (address key, building). The key folds
    what SQL cannot, so the let rentals are read once per import (a district holds some 10⁵)."""
    out: dict[tuple[str, str], Rental] = {}
    for rental in db_session.scalars(select(Rental).where(Rental.closed_at.is_(None))):
        key = address_key(rental.address)
        if key in keys:
            out[key, rental.building or ""] = rental
    return out


def _rental_errors(db_session: Session, rows: list[_RentalRow]) -> tuple[list[_RentalRow], list[RowError], int]:
    """New rentals (placed in grids), the errors, and how many rows are registered already."""
    seen = Counter((address_key(r.address), r.building or "") for r in rows)
    stored = _stored_rentals(db_session, {k for k, _ in seen})
    errors = [_error(r.number, "address", "duplicate_rental", f"this address and building appear {n} times",
                     f"同一地址和楼栋在文件中出现 {n} 次")
              for r in rows if (n := seen[address_key(r.address), r.building or ""]) > 1]
    new = [r for r in rows if (address_key(r.address), r.building or "") not in stored]
    return new, errors + _place_rentals(db_session, new), len(rows) - len(new)


def _tenant_targets(db_session: Session, tenants: list[_TenantRow], new_rentals: list[_RentalRow]
                    ) -> tuple[list[tuple[_TenantRow, Rental | _RentalRow]], list[RowError], int]:
    """The rental each tenant lives in (by address), the errors, and how many are registered already."""
    in_file: dict[str, list[Rental | _RentalRow]] = {}
    for r in new_rentals:
        in_file.setdefault(address_key(r.address), []).append(r)
    keys = {address_key(t.address) for t in tenants}
    for (key, _), rental in _stored_rentals(db_session, keys).items():
        in_file.setdefault(key, []).append(rental)
    hashes = Counter((pii.id_hash(t.id_number), address_key(t.address)) for t in tenants)
    targets, errors, unchanged = [], [], 0
    for t in tenants:
        found = in_file.get(address_key(t.address), [])
        if hashes[pii.id_hash(t.id_number), address_key(t.address)] > 1:
            errors.append(_error(t.number, "id_number", "duplicate_tenant", "this person is listed twice at this address",
                                 f"证件号码 {pii.mask_id(t.id_number)} 在同一地址重复出现"))
        if not found:
            errors.append(_error(t.number, "address", "unknown_rental", "no rental at this address in the ledger or "
                                 "the registry", "该居住地址不在出租屋台账中，也未登记"))
        elif len(found) > 1:
            errors.append(_error(t.number, "address", "ambiguous_rental", f"{len(found)} rentals share this address: "
                                 "register the tenant through the app", f"该地址有 {len(found)} 处出租屋，请在应用中逐个登记"))
        elif isinstance(found[0], Rental) and db_session.scalar(select(Tenant.id).where(
                Tenant.rental_id == found[0].id, Tenant.id_number_hash == pii.id_hash(t.id_number),
                Tenant.status != TenantStatus.deregistered.value)) is not None:
            unchanged += 1
        else:
            targets.append((t, found[0]))
    return targets, errors, unchanged


def _write(db_session: Session, rentals: list[_RentalRow], tenants: list[tuple[_TenantRow, Rental | _RentalRow]],
           now: datetime, actor: str) -> None:
    made: dict[int, Rental] = {}
    for r in rentals:
        managed_at = (r.managed_at or now) if r.managed else None
        made[id(r)] = rental = Rental(
            address=r.address, building=r.building, rooms=r.rooms, landlord_name=r.landlord_name,
            landlord_phone_enc=pii.encrypt(r.landlord_phone), grid_id=r.grid_id, managed=r.managed,
            location=devices.db_point(*r.point) if r.point else None, managed_at=managed_at,
            created_at=min(x for x in (r.registered_at, managed_at, now) if x is not None))
        db_session.add(rental)
    db_session.flush()
    for t, where in tenants:
        rental = where if isinstance(where, Rental) else made[id(where)]
        # the registry lists people already registered: without a 登记日期 they were registered when
        # they moved in, so past periods' registration rates do not drop on the day of the import
        registered = t.registered_at or t.moved_in_at or now
        tenant = Tenant(rental_id=rental.id, name=t.name, id_type=t.id_type, id_number_enc=pii.encrypt(t.id_number),
                        id_number_hash=pii.id_hash(t.id_number), phone_enc=pii.encrypt(t.phone), card_no=t.card_no,
                        status=TenantStatus.registered.value, source="import", moved_in_at=t.moved_in_at or registered,
                        registered_at=registered, created_at=now)
        db_session.add(tenant)
        db_session.flush()
        db_session.add(TenantRecord(tenant_id=tenant.id, kind="registration", status="confirmed", source="import",
                                    occurred_at=tenant.moved_in_at, decided_at=registered, decided_by=actor))
    db_session.flush()


def _audit(db_session: Session, files: list[tuple[LedgerFile, int, int]], *, user: User | None, actor: str,
           channel: str, now: datetime) -> None:
    for f, rentals, tenants in files:
        db_session.add(PiiImport(at=now, user_id=user.id if user else None, actor=actor[:64], channel=channel,
                                 filename=f.filename[-256:], sha256=hashlib.sha256(f.data).hexdigest(),
                                 rentals=rentals, tenants=tenants, fields=AUDITED_FIELDS))
    db_session.flush()


def import_ledgers(*, db_session: Session, rentals: LedgerFile | None, tenants: LedgerFile | None, now: datetime,
                   apply: bool, user: User | None, actor: str, channel: str) -> RentalImportReport:
    """Check both files whole; write them (flushed, the caller commits) only when `apply` and no row
    has an error. `user`: the editor, whose territory must hold every grid (None: the CLI's operator,
    named by `actor`)."""
    rental_rows, rental_errors = _parse(rentals.sheet, RENTAL_COLUMNS, RENTAL_REQUIRED, _rental_row) \
        if rentals else ([], [])
    new_rentals, more, rentals_unchanged = _rental_errors(db_session, rental_rows)
    rental_errors += more
    tenant_rows, tenant_errors = _parse(tenants.sheet, TENANT_COLUMNS, TENANT_REQUIRED, _tenant_row) \
        if tenants else ([], [])
    targets, more, tenants_unchanged = _tenant_targets(db_session, tenant_rows, new_rentals)
    tenant_errors += more
    if user is not None:
        ensure_holds(db_session, user, now, [r.grid_id for r in new_rentals if r.grid_id is not None])
    commit = apply and not any(e.blocking for e in rental_errors + tenant_errors)
    if commit:
        _write(db_session, new_rentals, targets, now, actor)
        _audit(db_session, [(f, n_r, n_t) for f, n_r, n_t in ((rentals, len(new_rentals), 0), (tenants, 0, len(targets)))
                            if f is not None], user=user, actor=actor, channel=channel, now=now)
    return RentalImportReport(
        rental_rows=len(rentals.sheet.rows) if rentals else 0, tenant_rows=len(tenants.sheet.rows) if tenants else 0,
        rentals_new=len(new_rentals), rentals_unchanged=rentals_unchanged, tenants_new=len(targets),
        tenants_unchanged=tenants_unchanged, rental_errors=sorted(rental_errors, key=lambda e: e.row),
        tenant_errors=sorted(tenant_errors, key=lambda e: e.row), committed=commit)
