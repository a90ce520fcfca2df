"""Every xlsx and docx writer survives text with control characters (which XML 1.0 cannot hold): they
are dropped, the rest of the text is kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook

from metrics.office_text import office_text
from metrics.weekly_report import DeviceOutage, write_docx
from metrics.xlsx_layout import write_header, write_row, write_title
from tests.metrics.test_weekly_report import SUMMARY

DIRTY = "占道\x00经营\x01\x1b[31m\x0b\ud800\uffff"


@pytest.mark.parametrize(("value", "expected"), [
    (DIRTY, "占道经营[31m"), ("第一行\n第二行\t完\r", "第一行\n第二行\t完\r"), ("\x7f\x85", "\x7f\x85"), (42, 42), (None, None),
])
def test_office_text(value: object, expected: object) -> None:
    assert office_text(value) == expected


def test_sheet_writers_drop_control_characters(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    write_title(ws, 1, f"标题{DIRTY}", 3)
    write_header(ws, 2, ["列\x01一", "列二", "列三"])
    write_row(ws, 3, [DIRTY, 1.5, datetime(2026, 11, 20, tzinfo=UTC)])
    wb.save(tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx").active
    assert [ws["A1"].value, ws["A2"].value, ws["A3"].value] == ["标题占道经营[31m", "列一", "占道经营[31m"]


def test_weekly_docx_with_control_characters(tmp_path: Path) -> None:
    summary = replace(SUMMARY, area=f"黄埔区{DIRTY}", events_by_category={f"市容{DIRTY}": 3},
                      device_outages=[DeviceOutage("CAM\x1b1", "视频监控点位", DIRTY, datetime(2026, 11, 19, tzinfo=UTC),
                                                   8.0)])
    path = write_docx(summary, tmp_path / "w.docx")
    text = "\n".join(p.text for p in Document(str(path)).paragraphs)
    cells = [c.text for t in Document(str(path)).tables for row in t.rows for c in row.cells]
    assert "黄埔区占道经营[31m" in text and "CAM1" in cells and "占道经营[31m" in cells
