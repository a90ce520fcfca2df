"""The quarterly monitoring table: progress by quarter against target, spending as the user entered it."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from metrics.budget import BudgetExecution
from metrics.declaration import Declaration, DeclarationRow, read_declarations
from metrics.monitoring import HEADERS, monitor, monitor_row, write_monitoring
from metrics.self_evaluation import MANUAL
from metrics.targets import parse_target
from tests.metrics.seed_xlsx import DATA_DIR


def _row(n: int, level1: str, text: str, target: str, code: str | None) -> DeclarationRow:
    return DeclarationRow(level1, "数量指标", text, parse_target(target), code, n)


ROWS = [
    _row(5, "产出指标", "设备在线率", "≥95%", "online_rate"),
    _row(6, "产出指标", "网格事件办结率", "≥98%", "closure_rate"),
    _row(7, "产出指标", "调解案件回复时限", "≤30天", "dispute_reply_within_30_days_rate"),
    _row(8, "满意度指标", "满意度", "全面提升", "satisfaction"),
]
DECLARATION = Declaration("综治专项经费", 2026, 95.0, ROWS)
PROGRESS = {"online_rate": (93.0, 94.5, 95.5, 99.0), "closure_rate": (97.0, None, None, None),
            "dispute_reply_within_30_days_rate": (100.0, 100.0, 100.0, 100.0), "satisfaction": (91.0,)}


@pytest.mark.parametrize(("target", "code", "values", "quarter", "shown", "completion"), [
    ("≥95%", "online_rate", (93.0, 94.5, 95.5, 99.0), 3, (93.0, 94.5, 95.5, None), 100.53),
    ("≥95%", "online_rate", (93.0, 94.5, 95.5, 99.0), 1, (93.0, None, None, None), 97.89),
    ("≥98%", "closure_rate", (97.0,), 4, (97.0, None, None, None), 98.98),
    ("≥98%", "closure_rate", (97.0, None, 99.0), 2, (97.0, None, None, None), 98.98),
    ("≥20次", "visits_per_worker_month", (10.0, 24.0), 2, (10.0, 24.0, None, None), 120.0),
    ("≤5%", "online_rate", (2.0, 10.0), 2, (2.0, 10.0, None, None), 50.0),
])
def test_completion_uses_the_latest_reported_quarter(target: str, code: str, values: tuple[float, ...], quarter: int,
                                                     shown: tuple[float | None, ...], completion: float) -> None:
    result = monitor_row(DeclarationRow("产出指标", "数量指标", "x", parse_target(target), code, 5), values, quarter)
    assert (result.quarters, result.completion, result.remark) == (shown, completion, "")


@pytest.mark.parametrize("values", [(), (None, None), None])
def test_no_progress_yet_is_no_data(values: tuple[float | None, ...] | None) -> None:
    result = monitor_row(ROWS[0], values, 4)
    assert result.completion is None and result.remark == f"{MANUAL}：指标“视频监控点位设备在线率”无数据"


def test_monitor_marks_rows_it_cannot_compute() -> None:
    rows = monitor(DECLARATION, PROGRESS, quarter=2)
    assert [r.completion for r in rows] == [99.47, 98.98, None, None]
    assert "单位（天）" in rows[2].remark and "指标值为文字" in rows[3].remark
    assert rows[3].quarters == (91.0, None, None, None)


@pytest.mark.parametrize("quarter", [0, 5])
def test_quarter_must_be_one_to_four(quarter: int) -> None:
    with pytest.raises(ValueError, match="季度应为1至4"):
        monitor(DECLARATION, PROGRESS, quarter=quarter)


def test_the_monitoring_workbook(tmp_path: Path) -> None:
    path = write_monitoring(tmp_path / "监控表.xlsx", DECLARATION, PROGRESS, quarter=3,
                            budget=BudgetExecution(95.0, 52.25, planned_rate=70.0),
                            notes={"closure_rate": "二季度起按周调度超期事件"}, unit_name="区委政法委")
    ws = load_workbook(path)["绩效运行监控表"]
    assert ws["A1"].value == "综治专项经费2026年绩效运行监控表（截至三季度）"
    assert [c.value for c in ws[4]][:5] == ["预算数（万元）", "执行数（万元）", "执行率", "计划执行率", "执行偏差"]
    assert [c.value for c in ws[5]][:5] == [95, 52.25, 0.55, 0.7, -0.15]  # values, not formulas
    assert ws["C5"].number_format == "0.00%" and ws["A3"].value == "一、预算执行情况"
    assert tuple(c.value for c in ws[8]) == HEADERS
    assert [c.value for c in ws[9]] == ["产出指标", "数量指标", "设备在线率", "≥95%", "93.00%", "94.50%", "95.50%",
                                       None, "100.53%", None, None]
    assert ws["J10"].value == "二季度起按周调度超期事件" and ws["I10"].value == "98.98%"
    assert MANUAL in ws["K11"].value and ws["I11"].value is None
    assert {"A9:A11", "B9:B11"} <= {str(r) for r in ws.merged_cells.ranges}
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$8:$8"
    assert (int(ws.page_setup.fitToWidth), int(ws.page_setup.fitToHeight)) == (1, 0)


def test_without_budget_figures_the_block_asks_for_them(tmp_path: Path) -> None:
    declaration = read_declarations(DATA_DIR / "seed_003.xlsx")[6]
    ws = load_workbook(write_monitoring(tmp_path / "m.xlsx", declaration, {}, quarter=1))["绩效运行监控表"]
    assert MANUAL in ws["A3"].value and ws["A5"].value == declaration.budget_wan  # the declared budget, shown
    assert ws["B5"].value is None and ws["B5"].fill.fgColor.rgb.endswith("FFF2CC")
    assert ws["A1"].value.endswith("绩效运行监控表（截至一季度）")
    assert all(MANUAL in ws.cell(row=r, column=11).value for r in range(9, 15))
