"""The self-evaluation table: scoring rule, rows that need a person, and the printed xlsx itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from metrics.budget import BudgetExecution
from metrics.declaration import Declaration, DeclarationRow, read_declarations
from metrics.self_evaluation import (HEADERS, MANUAL, ActualValue, budget_score, evaluate, row_weights, score_row,
                                     write_self_evaluation)
from metrics.targets import parse_target
from tests.metrics.seed_xlsx import DATA_DIR


def _row(n: int, level1: str, level2: str, text: str, target: str, code: str | None,
         period: str | None = None) -> DeclarationRow:
    return DeclarationRow(level1, level2, text, parse_target(target), code, n,
                          period_target=parse_target(period) if period else None)


ROWS = [
    _row(5, "产出指标", "数量指标", "设备在线率", "≥95%", "online_rate"),
    _row(6, "产出指标", "数量指标", "网格事件办结率", "≥98%", "closure_rate"),
    _row(7, "产出指标", "时效指标", "调解案件结案效率", "≤30天", "dispute_reply_within_30_days_rate"),
    _row(8, "产出指标", "质量指标", "安装数量", "≥680", None),
    _row(9, "效益指标", "社会效益", "日常巡查", "以街镇为单位, 专职网格员每月至少到网格巡查走访20次", "visits_per_worker_month"),
    _row(10, "满意度指标", "服务对象满意度", "满意度", "≥90%", "satisfaction"),
    _row(11, "满意度指标", "服务对象满意度", "人民群众安全感、满意度", "全面提升", "satisfaction"),
]
DECLARATION = Declaration("雪亮工程一期维护费", 2021, 189.8, ROWS, sheet="01")
OPEN = [{"事件编号": "2026-000017", "网格": "440112001001001", "办结时间": None, "超期": True},
        {"事件编号": "2026-000018", "网格": "440112001001002", "办结时间": None, "超期": False}]
ACTUALS = {
    "online_rate": ActualValue(96.2, "%"),
    "closure_rate": ActualValue(97.0, "%", deviation_reason="12件跨年事件未办结", drilldown=OPEN),
    "dispute_reply_within_30_days_rate": ActualValue(100.0, "%"),
    "visits_per_worker_month": ActualValue(18.5, "次"),
    "satisfaction": ActualValue(92.0),
}


def test_each_level1_weight_is_split_among_its_rows() -> None:
    odd = _row(12, "其他", "其他", "x", "1个", None)
    assert row_weights([*ROWS, odd]) == [12.5, 12.5, 12.5, 12.5, 30.0, 5.0, 5.0, None]
    assert row_weights(ROWS, {"产出": 40, "效益": 40, "满意度": 20})[4] == 40


@pytest.mark.parametrize(("target", "actual", "weight", "score"), [
    ("≥98%", 99.0, 12.5, 12.5), ("≥98%", 98.0, 12.5, 12.5), ("≥98%", 49.0, 10.0, 5.0), ("≥20次", 18.5, 12.5, 11.56),
    ("100%", 95.0, 10.0, 9.5), ("≥95%", 120.0, 10.0, 10.0), ("≤30天", 60.0, 10.0, 5.0), ("≤30天", 12.0, 10.0, 10.0),
    ("≤0次", 2.0, 10.0, 0.0), ("20元/户", 25.0, 10.0, 8.0), ("≥95%", -3.0, 10.0, 0.0), ("全面提升", 100.0, 10.0, None),
    ("≥95%", None, 10.0, None),
])
def test_score_row(target: str, actual: float | None, weight: float, score: float | None) -> None:
    assert score_row(parse_target(target), actual, weight) == score


@pytest.mark.parametrize(("budget", "score"), [
    (BudgetExecution(100.0, 96.3), 9.63), (BudgetExecution(100.0, 120.0), 10.0), (BudgetExecution(100.0, None), None),
    (BudgetExecution(0.0, 5.0), None), (None, None),
])
def test_budget_score(budget: BudgetExecution | None, score: float | None) -> None:
    assert budget_score(budget) == score


def test_evaluate_computes_what_data_allows_and_says_why_not_otherwise() -> None:
    rows = evaluate(DECLARATION, ACTUALS)
    assert [r.score for r in rows] == [12.5, 12.37, None, None, 27.75, 5.0, None]
    assert [r.achieved for r in rows] == [True, False, None, None, False, True, None]
    assert [r.actual_text for r in rows] == ["96.20%", "97.00%", "100.00%", "", "18.50次", "92.00%", "92.00%"]
    remarks = [r.remark for r in rows]
    assert remarks[0] == "" and remarks[5] == ""
    assert remarks[1] == ""  # not met, but the caller gave the reason
    assert remarks[2].startswith(MANUAL) and "单位（天）" in remarks[2]
    assert remarks[3] == f"{MANUAL}：未对应到可由数据计算的指标"
    assert "指标值取自文字描述（≥20次）" in remarks[4] and "请填写偏差原因" in remarks[4]
    assert remarks[6] == f"{MANUAL}：指标值为文字，请人工判断"
    assert rows[1].deviation_reason == "12件跨年事件未办结"


@pytest.mark.parametrize(("row", "actual", "remark"), [
    (_row(5, "产出指标", "数量指标", "事件质量", "≥55分", "quality_score"), ActualValue(26.0), "量程（最高30）"),
    (_row(5, "产出指标", "数量指标", "办结率", "≥98%", "closure_rate"), ActualValue(None), "无数据"),
    (_row(5, "产出指标", "数量指标", "办结率", "≥98%", "closure_rate"), None, "无数据"),
    (_row(5, "产出指标", "数量指标", "办结率", "≥98%", "closure_rate"), ActualValue(0.99, "件"), "实际值单位（件）"),
    (_row(5, "产出指标", "数量指标", "办结率", "办结率=办结数/上报数", "closure_rate", period="办结率达98%以上"),
     ActualValue(99.0), "按实施周期指标值 ≥98% 评价"),
])
def test_row_remarks(row: DeclarationRow, actual: ActualValue | None, remark: str) -> None:
    evaluated = evaluate(Declaration("p", 2026, 1.0, [row]), {row.indicator_code: actual} if actual else {})
    assert remark in evaluated[0].remark


@pytest.fixture(scope="module")
def sheet_book(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("se") / "自评表.xlsx"
    write_self_evaluation(path, DECLARATION, ACTUALS, budget=BudgetExecution(189.8, 180.0), unit_name="区委政法委")
    return load_workbook(path)


def test_the_table_layout(sheet_book) -> None:  # type: ignore[no-untyped-def]
    ws = sheet_book["绩效自评表"]
    assert ws["A1"].value == "雪亮工程一期维护费2021年度项目支出绩效自评表"
    assert "填报单位：区委政法委" in ws["A2"].value and "预算：189.80万元" in ws["A2"].value
    assert tuple(c.value for c in ws[3]) == HEADERS
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:J1", "A2:J2", "A5:A8", "B5:B6", "A10:A11", "B10:B11", "A12:F12"} <= merged
    assert [ws.cell(row=r, column=1).value for r in range(4, 12)] == [
        "预算执行", "产出指标", None, None, None, "效益指标", "满意度指标", None]
    assert [ws.cell(row=r, column=4).value for r in range(5, 12)] == [r.target.original for r in ROWS]


def test_the_scores_and_totals(sheet_book) -> None:  # type: ignore[no-untyped-def]
    ws = sheet_book["绩效自评表"]
    assert [ws.cell(row=4, column=c).value for c in range(5, 9)] == ["94.84%（执行180.00万元/预算189.80万元）", "否", 10, 9.48]
    assert [ws.cell(row=r, column=7).value for r in range(5, 12)] == [12.5, 12.5, 12.5, 12.5, 30, 5, 5]
    assert [ws.cell(row=r, column=8).value for r in range(5, 12)] == [12.5, 12.37, None, None, 27.75, 5, None]
    assert [ws.cell(row=r, column=6).value for r in range(5, 12)] == ["是", "否", "—", "—", "否", "是", "—"]
    assert ws["I6"].value == "12件跨年事件未办结"
    assert ws["A12"].value == "合计" and ws["G12"].value == 100 and ws["H12"].value == 67.1  # a value, not =SUM()
    assert ws["A13"].value.startswith("评分规则")


def test_rows_for_manual_input_are_marked_and_shaded(sheet_book) -> None:  # type: ignore[no-untyped-def]
    ws = sheet_book["绩效自评表"]
    manual = [r for r in range(4, 12) if MANUAL in (ws.cell(row=r, column=10).value or "")]
    assert manual == [7, 8, 11]
    assert ws["H8"].fill.fgColor.rgb.endswith("FFF2CC") and not ws["H5"].fill.fgColor.rgb.endswith("FFF2CC")
    assert ws["E8"].value is None and ws["H8"].value is None


def test_print_settings(sheet_book) -> None:  # type: ignore[no-untyped-def]
    ws = sheet_book["绩效自评表"]
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert (int(ws.page_setup.fitToWidth), int(ws.page_setup.fitToHeight)) == (1, 0)
    assert ws.print_title_rows == "$3:$3"
    assert ws["C5"].alignment.wrap_text and ws["C5"].border.left.style == "thin"
    assert ws.column_dimensions["C"].width == 28 and ws.column_dimensions["I"].width == 30


def test_every_row_marked_no_has_its_detail_sheet(sheet_book) -> None:  # type: ignore[no-untyped-def]
    assert sheet_book.sheetnames == ["绩效自评表", "明细-预算执行率", "明细-网格事件办结率", "明细-日常巡查"]
    main = sheet_book["绩效自评表"]
    for row in range(4, 12):
        if main.cell(row=row, column=6).value == "否":
            sheet = f"明细-{main.cell(row=row, column=3 if row > 4 else 2).value}"
            assert sheet in sheet_book.sheetnames and f"明细见工作表“{sheet}”" in main.cell(row=row, column=10).value
    ws = sheet_book["明细-网格事件办结率"]
    assert ws["A1"].value == "网格事件办结率 明细（共2条）"
    assert [c.value for c in ws[2]] == ["事件编号", "网格", "办结时间", "超期"]
    assert [c.value for c in ws[3]] == ["2026-000017", "440112001001001", None, "是"]
    assert ws.print_title_rows == "$2:$2" and ws.auto_filter.ref == "A2:D4"
    assert sheet_book["明细-预算执行率"]["D3"].value == "9.80万元"  # 189.8 budgeted, 180 spent
    summary = sheet_book["明细-日常巡查"]  # an indicator without records: how its figure is made
    assert "巡查走访次数" in summary["B3"].value and summary["E3"].value == "18.50次"


def test_a_seed_declaration_without_data_is_all_manual(tmp_path: Path) -> None:
    declaration = read_declarations(DATA_DIR / "seed_002.xlsx")[0]
    ws = load_workbook(write_self_evaluation(tmp_path / "x.xlsx", declaration, {}))["绩效自评表"]
    assert all(MANUAL in ws.cell(row=r, column=10).value for r in range(4, 11))
    assert [ws.cell(row=r, column=4).value for r in range(5, 11)] == ["≥680", "是", "≥95%", "是", "是", "≥90%"]
    assert all(ws.cell(row=r, column=8).value is None for r in range(4, 11))
