"""The tables people sign: 考核表 (one sheet per street, then the per-worker detail) and the pay table.

A4 landscape, fitted to one page wide, the header row repeated on every page, the rule's source
and version under the table, then the signature lines of the street (街道负责人) and the district
(区综治中心). Numbers are written as numbers with a format, so they add up in Excel too.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from server.assessment.compute import WorkerScore
from server.assessment.pay import StreetShare
from server.assessment.rule import AssessmentRule

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
SCORE, MONEY = "0.00", "#,##0.00"
SIGNATURES = ("街道负责人（签字）：", "区综治中心（签字）：")


def _setup(ws: Worksheet, title: str, headers: Sequence[str], widths: Sequence[float], height: float = 44) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.print_title_rows = "3:3"
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"].font, ws["A1"].alignment = Font(size=15, bold=True), Alignment(horizontal="center")
    ws.row_dimensions[1].height = 28
    ws.append([])
    ws.append(list(headers))
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width
        cell = ws.cell(row=3, column=col)
        cell.font, cell.border = Font(bold=True), BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[3].height = height


def _row(ws: Worksheet, values: Sequence[object], formats: dict[int, str] | None = None, bold: bool = False) -> None:
    ws.append([float(v) if isinstance(v, Decimal) else v for v in values])
    for col in range(1, len(values) + 1):
        cell = ws.cell(row=ws.max_row, column=col)
        cell.border = BOX
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        if formats and col in formats:
            cell.number_format = formats[col]
        if bold:
            cell.font = Font(bold=True)


def _footer(ws: Worksheet, lines: Sequence[str], width: int) -> None:
    ws.append([])
    for line in lines:
        ws.append([line])
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=width)
        ws.cell(row=ws.max_row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[ws.max_row].height = 15 * (1 + len(line) // 110)
    ws.append([])
    half = max(width // 2, 1)
    ws.append([SIGNATURES[0] + "____________　日期：________"] + [None] * (half - 1)
              + [SIGNATURES[1] + "____________　日期：________"])
    ws.row_dimensions[ws.max_row].height = 30


def _title_safe(name: str) -> str:
    return "".join(ch for ch in name if ch not in "[]:*?/\\")[:31]


def _month_zh(label: str) -> str:
    year, month = label.split("-")
    return f"{year}年{int(month)}月"


def assessment_workbook(rows: Sequence[WorkerScore], rule: AssessmentRule, month: str, street_names: dict[str, str],
                        frozen: dict[str, int]) -> bytes:
    """考核表: one sheet per street (ranked rows, the street average), then 明细 with every item's records."""
    wb = Workbook()
    wb.remove(wb.active)
    items = rule.items
    headers = ["排名", "网格员", "姓名", "网格（本月占比）", "在岗比例",
               *(f"{i.name_zh}\n（{i.points.normalize():f}分）" if i.kind in ("target", "quality", "ratio")
                 else f"{i.name_zh}\n（每项{i.per:+}，限{i.cap:+}）" for i in items), "合计", "备注"]
    widths = [6, 12, 10, 22, 8, *([12] * len(items)), 9, 15]
    formats = {5: "0.0%", **{6 + n: SCORE for n in range(len(items) + 1)}}
    streets = sorted({r.street_code for r in rows})
    for street in streets:
        name = street_names.get(street, street)
        ws = wb.create_sheet(_title_safe(name))
        state = f"（已签核冻结，第{frozen[street]}版）" if frozen.get(street) else "（未冻结，按当前数据计算）"
        _setup(ws, f"{name}网格员月度考核表（{_month_zh(month)}）{state}", headers, widths, height=86)
        mine = [r for r in rows if r.street_code == street]
        for r in mine:
            scores = {i.code: i.score for i in r.items}
            grids = "、".join(f"{p['网格'][-6:]}（{p['占比']:.0%}）" for p in r.parts)
            _row(ws, [r.rank or "—", r.username, r.full_name, grids, r.coverage,
                      *(scores.get(i.code, Decimal(0)) for i in items), r.total,
                      "" if r.assessed else "在岗不足，不参评"], formats)
        ranked = [r.total for r in mine if r.assessed]
        average = (sum(ranked, Decimal(0)) / len(ranked)).quantize(Decimal("0.01")) if ranked else None
        _row(ws, ["", "街道平均", "", f"参评 {len(ranked)} 人", None, *([None] * len(items)), average, ""],
             formats, bold=True)
        _footer(ws, [f"考核细则：{rule.name}（{rule.version}，适用{rule.year}年）。{rule.proration_text}",
                     f"细则来源：{rule.source_zh or rule.source}"], len(headers))
    detail = wb.create_sheet("明细")
    _setup(detail, f"网格员月度考核明细（{_month_zh(month)}）",
           ["街道", "网格员", "姓名", "考核项", "满分/每项", "完成情况", "得分", "依据记录（前10条）"],
           [14, 12, 10, 22, 10, 22, 8, 70])
    for r in rows:
        for i, item in zip(r.items, items, strict=False):
            ref = "；".join("，".join(f"{k}:{v}" for k, v in rec.items()) for rec in i.records[:10])
            more = f"（共{i.records_total}条）" if i.records_total > 10 else ""
            top = f"{item.points.normalize():f}" if item.kind in ("target", "quality", "ratio") else f"{item.per:+}"
            _row(detail, [street_names.get(r.street_code, r.street_code), r.username, r.full_name, i.name_zh, top,
                          i.text, i.score, ref + more], {7: SCORE})
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def pay_workbook(streets: Sequence[StreetShare], rule: AssessmentRule, period: str, pool: Decimal,
                 street_names: dict[str, str], draft: bool) -> bytes:
    """The pay table: the streets' amounts, then one sheet per street with each worker's share."""
    wb = Workbook()
    ws = wb.active
    ws.title = "街道汇总"
    mark = "（草稿，未冻结）" if draft else ""
    _setup(ws, f"综合网格管理奖励性绩效核定表（{period}）{mark}", ["街道", "专职网格员（按在岗折算）", "分配方式", "金额（元）"],
           [24, 20, 18, 18])
    for s in streets:
        _row(ws, [street_names.get(s.street_code, s.street_code), float(s.headcount),
                  "街道资金表" if s.fixed else ("按人数" if rule.pay.street_weight == "headcount" else "按得分"),
                  s.amount], {2: "0.00", 4: MONEY})
    _row(ws, ["合计", None, None, pool], {4: MONEY}, bold=True)
    _footer(ws, [f"分配规则：{rule.pay.text}"], 4)
    for s in streets:
        sheet = wb.create_sheet(_title_safe(street_names.get(s.street_code, s.street_code)))
        _setup(sheet, f"{street_names.get(s.street_code, s.street_code)}网格员奖励性绩效（{period}）{mark}",
               ["网格员", "姓名", "考核得分", "在岗（月）", "权重（得分×在岗）", "金额（元）", "备注"],
               [12, 10, 10, 10, 16, 14, 26])
        for w in s.workers:
            _row(sheet, [w.username, w.full_name, w.score, w.coverage, float(w.weight), w.amount, w.note],
                 {3: SCORE, 4: "0.00", 5: "0.00", 6: MONEY})
        _row(sheet, ["合计", None, None, None, None, sum((w.amount for w in s.workers), Decimal(0)), ""],
             {6: MONEY}, bold=True)
        _footer(sheet, [f"分配规则：{rule.pay.text}"], 7)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
