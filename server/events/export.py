"""Event lists as CSV or xlsx, with Chinese headers and times in Asia/Shanghai."""

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
from server.config import get_settings
from server.events.enums import SATISFACTION_LABELS_ZH, Satisfaction
from server.events.models import Event
from server.events.presenters import event_reads

HEADERS = ["事件编号", "事件类别", "状态", "网格编码", "街道编码", "上报人", "上报时间", "办结时限", "办结时间",
           "是否超期", "是否正常办结", "承办部门", "满意度", "地址", "经度(CGCS2000)", "纬度(CGCS2000)", "事件描述"]


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M:%S")


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def rows(db_session: Session, events: Sequence[Event]) -> list[list[object]]:
    out: list[list[object]] = []
    for r in event_reads(db_session, events):
        satisfaction = SATISFACTION_LABELS_ZH[Satisfaction(r.satisfaction)] if r.satisfaction else ""
        out.append([r.uuid, r.category_name, r.state_zh, r.grid_code, r.street_code, r.reporter,
                    _local(r.reported_at), _local(r.closure_due_at), _local(r.closed_at), _yes_no(r.overdue),
                    _yes_no(r.closed_on_time), r.dispatched_to or "", satisfaction, r.address or "",
                    round(r.lon, 7), round(r.lat, 7), r.description])
    return out


def render(db_session: Session, events: Sequence[Event], *, fmt: str) -> tuple[bytes, str]:
    data = rows(db_session, events)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(HEADERS)
        writer.writerows(data)
        # UTF-8 with BOM: Excel on Chinese Windows opens it without garbling.
        return buf.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8"
    wb = Workbook()
    ws = wb.active
    ws.title = "网格事件"
    ws.append(HEADERS)
    for row in data:
        ws.append([office_text(v) for v in row])  # a row stored with control characters still exports
    ws.freeze_panes = "A2"
    for i, header in enumerate(HEADERS, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(12, len(header) * 2 + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
