"""Bulk registration from a 点位台账 (xlsx/CSV): check every row, then write all or nothing.

Columns (Chinese or English header; * and units in brackets are ignored):
设备编码/code*, 设备名称/name*, 设备类型/kind*, 国标编码/gb_code, 经度/lon, 纬度/lat,
坐标系/datum (wgs84, gcj02, bd09, cgcs2000; default from the request), 安装日期/installed_at,
权属单位/owner_unit, 心跳间隔/heartbeat_interval_s (seconds), 安装地址/address.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InputError
from devices import credentials
from server.auth.models import User
from server import sheets
from server.devices import placement
from server.devices.models import Device
from server.devices.schemas import Credentials, DeviceCreate, DeviceImportReport, RowError
from server.devices.service import gb_code_for, new_device
from server.errors import GridopsError
from server.territory import ensure_holds
from devices.codes import parse_kind

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("设备编码", "编码", "code", "device_code"),
    "name": ("设备名称", "名称", "点位名称", "name"),
    "kind": ("设备类型", "类型", "kind"),
    "gb_code": ("国标编码", "gb28181编码", "gb_code"),
    "lon": ("经度", "lon", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "datum": ("坐标系", "datum"),
    "installed_at": ("安装日期", "安装时间", "installed_at", "installed_on"),
    "owner_unit": ("权属单位", "所属单位", "owner_unit"),
    "heartbeat_interval_s": ("心跳间隔", "heartbeat_interval_s", "heartbeat_interval"),
    "address": ("安装地址", "地址", "address"),
}
REQUIRED = ("code", "name", "kind")
LABEL = {field: names[0] for field, names in COLUMNS.items()}


def _column_map(sheet: sheets.Sheet) -> dict[str, str]:
    return sheets.column_map(sheet, COLUMNS)


_text = sheets.text  # 20-digit ids typed as numbers lose digits: caught by _code_cell first
_date = sheets.day


def _interval(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(float(text.lower().removesuffix("s").removesuffix("秒")))
    except OverflowError:  # 1e999 is inf, which is no int
        raise ValueError(f"not a number of seconds: {value!r}") from None


def _code_cell(value: Any, field: str) -> None:
    """Excel keeps numbers as doubles: a 20-digit id typed as a number has already lost digits."""
    if sheets.digits_as_number(value):
        raise InputError(f"{field}_as_number", f"{LABEL[field]} 以数字保存，超过 15 位已丢失精度，请将该列设为文本",
                               f"{field} {value!r} is stored as a number and lost digits beyond 15: "
                               "format the column as text")


def _row_input(values: dict[str, Any], cols: dict[str, str], default_datum: str) -> dict[str, Any]:
    raw = {field: values.get(col) for field, col in cols.items()}
    _code_cell(raw.get("code"), "code")
    _code_cell(raw.get("gb_code"), "gb_code")
    data: dict[str, Any] = {k: _text(raw.get(k)) for k in ("code", "name", "gb_code", "owner_unit", "address")}
    data["kind"] = parse_kind(_text(raw.get("kind")) or "")
    for key in ("lon", "lat"):
        text = _text(raw.get(key))
        data[key] = float(text) if text is not None else None
    data["datum"] = _text(raw.get("datum")) or default_datum
    data["installed_at"] = _date(raw.get("installed_at"))
    interval = _interval(raw.get("heartbeat_interval_s"))
    if interval is not None:
        data["heartbeat_interval_s"] = interval
    return {k: v for k, v in data.items() if v is not None}


def _error(row: int, column: str | None, code: str, en: str, zh: str, blocking: bool = True) -> RowError:
    return RowError(row=row, column=LABEL.get(column or "", column), code=code, message=en, message_zh=zh,
                    blocking=blocking)


def _check_row(number: int, values: dict[str, Any], cols: dict[str, str], default_datum: str
               ) -> tuple[DeviceCreate | None, str | None, tuple[float, float] | None, list[RowError]]:
    try:
        device_in = DeviceCreate(**_row_input(values, cols, default_datum))
        gb = gb_code_for(device_in)
        point = (placement.to_point(device_in.lon, device_in.lat, device_in.datum)
                 if device_in.lon is not None else None)
        return device_in, gb, point, []
    except ValidationError as exc:
        errs = [_error(number, str(e["loc"][0]) if e["loc"] else None, "invalid_value", e["msg"],
                       f"{LABEL.get(str(e['loc'][0]) if e['loc'] else '', '')} 取值无效：{e['msg']}")
                for e in exc.errors(include_url=False)]
        return None, None, None, errs
    except InputError as exc:
        column = {"unknown_device_kind": "kind", "invalid_gb28181_id": "gb_code", "code_as_number": "code",
                  "gb_code_as_number": "gb_code"}.get(exc.code, "lon")
        return None, None, None, [_error(number, column, exc.code, exc.message_en, exc.message_zh)]
    except GridopsError as exc:
        return None, None, None, [_error(number, "gb_code", exc.code, exc.message_en, exc.message_zh)]
    except ValueError as exc:
        return None, None, None, [_error(number, None, "invalid_value", str(exc), f"取值无效：{exc}")]


def _duplicates(checked: list[tuple[int, DeviceCreate, str | None, Any]], db_session: Session) -> list[RowError]:
    errors = []
    codes = Counter(d.code for _, d, _, _ in checked)
    gbs = Counter(gb for _, _, gb, _ in checked if gb)
    stored = set(db_session.scalars(select(Device.code).where(Device.code.in_(list(codes))))) if codes else set()
    stored_gb = set(db_session.scalars(select(Device.gb_code).where(Device.gb_code.in_(list(gbs))))) if gbs else set()
    for number, d, gb, _ in checked:
        if codes[d.code] > 1:
            errors.append(_error(number, "code", "duplicate_code", f"code {d.code} appears {codes[d.code]} times",
                                 f"设备编码 {d.code} 在文件中重复"))
        if d.code in stored:
            errors.append(_error(number, "code", "device_exists", f"device {d.code} is already registered",
                                 f"设备编码 {d.code} 已登记"))
        if gb and (gbs[gb] > 1 or gb in stored_gb):
            errors.append(_error(number, "gb_code", "duplicate_gb_code", f"GB/T 28181 id {gb} is used twice",
                                 f"国标编码 {gb} 重复或已登记"))
    return errors


def import_rows(*, db_session: Session, sheet: sheets.Sheet, default_datum: str = "cgcs2000",
                now: datetime, dry_run: bool = False, issue_secrets: bool = False,
                user: User | None = None) -> DeviceImportReport:
    """Check all rows; write them only if no row has a blocking error and it is not a dry run.
    `user`: the editor (None: a trusted caller, the CLI), who may place devices only in their area."""
    cols = _column_map(sheet)
    missing = [LABEL[f] for f in REQUIRED if f not in cols]
    if missing:
        return DeviceImportReport(rows=len(sheet.rows), created=[], committed=False, errors=[_error(
            1, None, "missing_column", f"missing columns: {', '.join(missing)}", f"缺少列：{'、'.join(missing)}")])
    errors: list[RowError] = []
    checked = []
    for number, values in sheet.rows:
        device_in, gb, point, row_errors = _check_row(number, values, cols, default_datum)
        errors += row_errors
        if device_in is not None:
            checked.append((number, device_in, gb, point))
    errors += _duplicates(checked, db_session)
    grid_ids = placement.grid_ids(db_session, [p for _, _, _, p in checked])
    ensure_holds(db_session, user, now, grid_ids)
    for (number, d, _, point), grid_id in zip(checked, grid_ids):
        if point is not None and grid_id is None:
            errors.append(_error(number, "lon", "outside_grids", f"{d.code} is outside every grid",
                                 f"{d.code} 不在任何网格内", blocking=False))
    commit = not dry_run and not any(e.blocking for e in errors)
    created, creds = [], []
    if commit:
        for (_, d, gb, point), grid_id in zip(checked, grid_ids):
            device = new_device(d, gb, point, grid_id, now)
            if issue_secrets:
                secret = credentials.new_secret()
                device.secret_hash = credentials.hash_secret(secret)
                creds.append(Credentials(code=d.code, username=d.code, secret=secret))
            db_session.add(device)
            created.append(d.code)
        db_session.flush()
    errors.sort(key=lambda e: e.row)
    return DeviceImportReport(rows=len(sheet.rows), created=created, errors=errors, committed=commit, credentials=creds)
