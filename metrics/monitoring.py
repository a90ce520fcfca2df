"""The quarterly monitoring table (绩效运行监控表): progress by quarter against the declared targets, and spending.

The caller supplies, per catalogue code, the indicator's value as of the end of each quarter
(year to date: Q1, Q1–Q2, …) and the budget figures the user typed in; this module lays them
out and computes 完成进度 = attainment of the latest reported quarter (actual/target for "≥",
target/actual for "≤", 100 % when within it), uncapped so that 104 % shows as 104 %. Rows
that cannot be computed keep their original target text and say why in 备注, as in the
self-evaluation table; nothing is filled in that the data does not give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from metrics.budget import BudgetExecution
from metrics.catalogue import CATALOGUE
from metrics.declaration import Declaration, DeclarationRow
from metrics.numbers import excel_format, number
from metrics.self_evaluation import MANUAL, TableContext, row_blocker, table_context, write_heading
from metrics.targets import attainment
from metrics.xlsx_layout import (MANUAL_FILL, fit_row_heights, set_widths, setup_print, write_header,
                                 write_level_rows, write_row, write_title)

QUARTERS = ("一季度", "二季度", "三季度", "四季度")
HEADERS = ("一级指标", "二级指标", "三级指标", "年度指标值", *QUARTERS, "完成进度", "偏差原因及改进措施", "备注")
WIDTHS = (10, 12, 28, 24, 10, 10, 10, 10, 10, 30, 26)
BUDGET_HEADERS = ("预算数（万元）", "执行数（万元）", "执行率", "计划执行率", "执行偏差")


@dataclass(frozen=True)
class MonitoringRow:
    """One row: the declaration row, the quarter values shown, 完成进度 in percent, and 备注."""

    row: DeclarationRow
    quarters: tuple[float | None, float | None, float | None, float | None]
    completion: float | None
    remark: str


def _quarters(values: Sequence[float | None] | None, quarter: int) -> tuple[float | None, ...]:
    """Four values; quarters after the reported one are blank whatever was passed."""
    given = list(values or ())[:4]
    given += [None] * (4 - len(given))
    return tuple(v if i < quarter else None for i, v in enumerate(given))


def monitor_row(row: DeclarationRow, values: Sequence[float | None] | None, quarter: int) -> MonitoringRow:
    """Completion from the latest quarter with a value, or the reason it cannot be given."""
    shown = _quarters(values, quarter)
    latest = next((v for v in reversed(shown) if v is not None), None)
    blocker = row_blocker(row, latest)
    if blocker is not None:
        return MonitoringRow(row, shown, None, f"{MANUAL}：{blocker}")  # type: ignore[arg-type]
    ratio = attainment(row.scored_target, latest)
    completion = None if ratio is None else round(ratio * 100.0, 2)
    return MonitoringRow(row, shown, completion, "")  # type: ignore[arg-type]


def monitor(declaration: Declaration, progress: Mapping[str, Sequence[float | None]], quarter: int = 4
            ) -> list[MonitoringRow]:
    """Every declaration row with its quarter values; `quarter` is the last quarter being reported (1–4)."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1–4, got {quarter} / 季度应为1至4，实际为{quarter}")
    return [monitor_row(r, progress.get(r.indicator_code or ""), quarter) for r in declaration.rows]


def _unit(row: DeclarationRow) -> str:
    return CATALOGUE[row.indicator_code].unit if row.indicator_code in CATALOGUE else ""


def _line(item: MonitoringRow, notes: Mapping[str, str]) -> list[Any]:
    unit = _unit(item.row)
    quarters = [number(v, unit) for v in item.quarters]
    note = notes.get(item.row.indicator_code or "", "")
    return [item.row.level1, item.row.level2, item.row.indicator_text, item.row.target.original, *quarters,
            number(item.completion, "%"), note, item.remark]


def _budget_block(ws: Worksheet, row: int, budget: BudgetExecution | None) -> int:
    """预算执行 as entered by the user, rate and gap computed here and written as values (every reader
    sees them; openpyxl cannot compute formulas). Returns the row of the figures."""
    missing = budget is None or budget.budget_wan is None or budget.executed_wan is None
    heading = "一、预算执行情况" + (f"（{MANUAL}：请录入预算数与执行数）" if missing else "")
    write_title(ws, row, heading, len(HEADERS), size=11, centred=False)
    write_header(ws, row + 1, BUDGET_HEADERS)
    values = row + 2
    planned = None if budget is None or budget.planned_rate is None else budget.planned_rate / 100.0
    rate = None if budget is None or budget.rate is None else round(budget.rate / 100.0, 6)
    gap = None if rate is None or planned is None else round(rate - planned, 6)
    amounts = [None, None] if budget is None else [budget.budget_wan, budget.executed_wan]
    write_row(ws, values, [*amounts, rate, planned, gap])
    for column in (1, 2):
        ws.cell(row=values, column=column).number_format = excel_format("万元")
    for column in (3, 4, 5):
        ws.cell(row=values, column=column).number_format = "0.00%"
    if missing:
        for column in (1, 2):
            ws.cell(row=values, column=column).fill = MANUAL_FILL
    return values


def write_monitoring(path: str | Path, declaration: Declaration, progress: Mapping[str, Sequence[float | None]], *,
                     quarter: int = 4, year: int | None = None, budget: BudgetExecution | None = None,
                     notes: Mapping[str, str] | None = None, unit_name: str = "") -> Path:
    """Write the 绩效运行监控表 for the year to the end of `quarter`; `notes` are 偏差原因及改进措施 by code.

    Year and budget as in the self-evaluation (`table_context`): the ones used, a mismatch stated.
    """
    rows = monitor(declaration, progress, quarter)
    context: TableContext = table_context(declaration, year=year, budget=budget, unit_name=unit_name)
    workbook = Workbook()
    ws = workbook.active
    ws.title = "绩效运行监控表"
    shown_year = f"{context.year}年" if context.year else ""
    first = write_heading(ws, context, f"{context.project or '（未注明项目名称）'}{shown_year}绩效运行监控表"
                                       f"（截至{QUARTERS[quarter - 1]}）", len(HEADERS))
    _budget_block(ws, first, context.budget)
    write_title(ws, first + 4, "二、绩效目标完成情况", len(HEADERS), size=11, centred=False)
    header_row = first + 5
    write_header(ws, header_row, HEADERS)
    last = write_level_rows(ws, header_row + 1, [_line(r, notes or {}) for r in rows], left_columns=(3, 4, 10, 11),
                            manual_columns=(5, 6, 7, 8, 9, 11), is_manual=lambda v: MANUAL in str(v[-1]))
    set_widths(ws, WIDTHS)
    fit_row_heights(ws, 1, last)
    setup_print(ws, header_row=header_row, last_column=len(HEADERS), last_row=last)
    path = Path(path)
    workbook.save(path)
    return path
