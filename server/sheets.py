"""Read the rows of an xlsx or CSV ledger (点位台账, 区划代码, 出租屋台账…) with its header row,
whatever the encoding, and the parts every spreadsheet import shares: the column map, the row error,
the cells that must be text.

CSV exported by Excel on a Chinese Windows is GBK, elsewhere UTF-8 with or without a BOM;
xlsx cells come typed (numbers, dates). Headers are normalised so that 设备编码*, 心跳间隔（秒）
and " 经度 " all match their field.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from server.config import get_settings
from server.errors import InvalidInput
from server.uploads import check_xlsx

MAX_ROWS = 200_000
_DECORATION = re.compile(r"[\s*＊]|[(（][^)）]*[)）]")


@dataclass
class Sheet:
    headers: list[str]  # as written in the file
    rows: list[tuple[int, dict[str, Any]]]  # (spreadsheet row number, {normalised header: value})


def normalise(header: object) -> str:
    return _DECORATION.sub("", str(header or "")).lower()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the CSV file is neither UTF-8 nor GBK: save it again as UTF-8 (or xlsx)",
                       "CSV 文件编码无法识别（既不是 UTF-8 也不是 GBK），请另存为 UTF-8 编码的 CSV 或 xlsx",
                       code="unreadable_file", detail={"encodings_tried": ["UTF-8", "GBK (GB18030)"]})


def _csv_rows(data: bytes) -> list[list[Any]]:
    return list(csv.reader(io.StringIO(_decode(data))))


def _unreadable(exc: Exception) -> InvalidInput:
    return InvalidInput(f"cannot read the xlsx file: {exc}", "无法读取 xlsx 文件", code="unreadable_file")


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    check_xlsx(data, max_total_bytes=get_settings().max_unzipped_mb << 20)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise _unreadable(exc) from None
    try:
        rows = []
        for i, row in enumerate(wb.worksheets[0].iter_rows(values_only=True)):
            if i > MAX_ROWS:
                break
            rows.append(list(row))
        return rows
    except Exception as exc:  # read_only inflates while iterating: a bad CRC or truncated sheet shows here
        raise _unreadable(exc) from None
    finally:
        wb.close()


def read(data: bytes, filename: str) -> Sheet:
    """The first sheet (xlsx) or the file (csv): header row, then data rows; blank rows skipped."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InvalidInput(f"expected .xlsx or .csv, got {filename!r}", "仅支持 .xlsx 或 .csv 文件",
                           code="unsupported_file_type")
    raw = _xlsx_rows(data) if suffix == ".xlsx" else _csv_rows(data)
    if not raw:
        raise InvalidInput("the file is empty", "文件为空", code="empty_file")
    if len(raw) > MAX_ROWS + 1:
        raise InvalidInput(f"more than {MAX_ROWS} rows: split the file", f"超过 {MAX_ROWS} 行，请拆分文件",
                           code="too_many_rows")
    headers = ["" if h is None else str(h).strip() for h in raw[0]]
    keys = [normalise(h) for h in headers]
    rows = []
    for number, values in enumerate(raw[1:], start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        rows.append((number, {k: v for k, v in zip(keys, values) if k}))
    return Sheet(headers, rows)


class RowError(BaseModel):
    row: int = Field(description="spreadsheet row number (the header is row 1)")
    column: str | None
    code: str
    message: str
    message_zh: str
    blocking: bool = True


def column_map(sheet: Sheet, columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{field: normalised header present in the sheet}, the first accepted name of each field that is."""
    present = {normalise(h) for h in sheet.headers}
    found = {}
    for field, names in columns.items():
        for name in names:
            if normalise(name) in present:
                found[field] = normalise(name)
                break
    return found


def missing_columns(sheet: Sheet, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> RowError | None:
    """The header row's error when a required column is absent (named by its first, Chinese, name)."""
    found = column_map(sheet, columns)
    missing = [columns[f][0] for f in required if f not in found]
    if not missing:
        return None
    return RowError(row=1, column=None, code="missing_column", message=f"missing columns: {', '.join(missing)}",
                    message_zh=f"缺少列：{'、'.join(missing)}")


def digits_as_number(value: Any) -> bool:
    """Excel keeps numbers as doubles: a code or ID of 16+ digits typed as a number has lost digits."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e15


def text(value: Any) -> str | None:
    """A cell as trimmed text (None when blank); 12-digit codes typed as numbers come back whole."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    out = str(value).strip()
    return out or None


def day(value: Any) -> date | None:
    """A date cell: typed by xlsx, or written 2024-03-01, 2024/3/1 or 2024年3月1日."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    raw = str(value).strip().replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-")
    if not raw:
        return None
    try:
        y, m, d = (int(p) for p in raw.split(" ")[0].split("-"))
        return date(y, m, d)
    except (ValueError, OverflowError):  # a year past C's long is an OverflowError, not a ValueError
        raise ValueError(f"not a date: {value!r} (use 2024-03-01)") from None
