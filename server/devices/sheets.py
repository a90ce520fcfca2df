"""Read the rows of an xlsx or CSV ledger (点位台账) with its header row, whatever the encoding.

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
from typing import Any

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
    raise InvalidInput("the CSV file is neither UTF-8 nor GBK", "CSV 文件编码无法识别（需 UTF-8 或 GBK）",
                       code="unreadable_file")


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
