"""Event lists as CSV or xlsx, with Chinese headers and times in Asia/Shanghai, that survive a spreadsheet.

What a spreadsheet does to a plain export, and what is done against it:
* **Codes become numbers.** A 15-digit grid code or a 20-digit device code is read as a number
  (4.40112E+14, the last digits lost). In the xlsx every code is a text cell (format "@"). In
  the CSV every code is written with a leading tab (TEXT_PREFIX): Excel and LibreOffice both keep
  such a field as text (the `="…"` idiom works in Excel only; LibreOffice shows it literally).
  Scripts reading the CSV strip the tab (`value.strip()`).
* **Times are text.** In the xlsx times are date cells: naive Asia/Shanghai datetimes with the
  format yyyy-mm-dd hh:mm:ss, so they sort, filter and subtract. In the CSV they are text in the
  same form.
* **Older Excel garbles UTF-8.** The CSV is UTF-8 with a BOM by default; `encoding=gbk` gives it
  in GB18030, the superset of GBK that Chinese Windows reads as its own code page: every GBK
  character is the same bytes, and characters outside GBK are kept (four bytes) rather than lost.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from metrics.office_text import office_text
from openpyxl.styles import Alignment

from metrics.xlsx_layout import display_width, fit_row_heights
from server.config import get_settings
from server.events.enums import SATISFACTION_LABELS_ZH, Satisfaction
from server.events.models import Event
from server.events.presenters import event_reads

HEADERS = ["事件编号", "事件类别", "状态", "网格编码", "街道编码", "上报人", "上报时间", "办结时限", "办结时间",
           "是否超期", "是否正常办结", "承办部门", "满意度", "地址", "经度(CGCS2000)", "纬度(CGCS2000)", "事件描述",
           "UUID"]
CODE_COLUMNS = frozenset({"事件编号", "网格编码", "街道编码", "UUID"})
TIME_COLUMNS = frozenset({"上报时间", "办结时限", "办结时间"})
PROSE_COLUMNS = frozenset({"地址", "事件描述"})  # wrapped in their column, rows as tall as the text
TEXT_PREFIX = "\t"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
ENCODINGS = {"utf-8": ("utf-8-sig", "utf-8"), "gbk": ("gb18030", "GB18030")}


def _local(value: datetime | None) -> datetime | None:
    """Naive local time to the second: Excel has no time zones, so the cell holds what the clock on the wall said."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(get_settings().timezone)).replace(tzinfo=None, microsecond=0)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def rows(db_session: Session, events: Sequence[Event]) -> list[list[object]]:
    out: list[list[object]] = []
    for r in event_reads(db_session, events):
        satisfaction = SATISFACTION_LABELS_ZH[Satisfaction(r.satisfaction)] if r.satisfaction else ""
        out.append([r.serial, r.category_name, r.state_zh, r.grid_code, r.street_code, r.reporter,
                    _local(r.reported_at), _local(r.closure_due_at), _local(r.closed_at), _yes_no(r.overdue),
                    _yes_no(r.closed_on_time), r.dispatched_to or "", satisfaction, r.address or "",
                    round(r.lon, 7), round(r.lat, 7), r.description, r.uuid])
    return out


def _csv_field(header: str, value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if header in CODE_COLUMNS and value:
        return f"{TEXT_PREFIX}{value}"
    return value


def render_csv(data: list[list[object]], encoding: str = "utf-8") -> tuple[bytes, str]:
    codec, charset = ENCODINGS[encoding]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    writer.writerows([[_csv_field(h, v) for h, v in zip(HEADERS, row)] for row in data])
    return buf.getvalue().encode(codec), f"text/csv; charset={charset}"


def render_xlsx(data: list[list[object]]) -> tuple[bytes, str]:
    wb = Workbook()
    ws = wb.active
    ws.title = "网格事件"
    ws.append(HEADERS)
    for row in data:
        ws.append([office_text(v) for v in row])  # a row stored with control characters still exports
    for column, header in enumerate(HEADERS, 1):
        cells = [ws.cell(row=r, column=column) for r in range(2, len(data) + 2)]
        if header in TIME_COLUMNS:
            for cell in cells:
                cell.number_format = DATETIME_FORMAT
        elif header in CODE_COLUMNS:
            for cell in cells:
                cell.number_format = "@"
        elif header in PROSE_COLUMNS:
            for cell in cells:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        widest = max([display_width(header), *(display_width(str(c.value or "")) for c in cells)])
        width = 21 if header in TIME_COLUMNS else min(50, max(10, widest + 2))
        ws.column_dimensions[get_column_letter(column)].width = width
    fit_row_heights(ws, 2, len(data) + 1)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(HEADERS))}{len(data) + 1}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def render(db_session: Session, events: Sequence[Event], *, fmt: str, encoding: str = "utf-8") -> tuple[bytes, str]:
    data = rows(db_session, events)
    return render_csv(data, encoding) if fmt == "csv" else render_xlsx(data)
