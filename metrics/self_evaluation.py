"""The year-end self-evaluation table (绩效自评表) as a print-ready xlsx: computed where data allows, never invented.

Input: a `Declaration` (its rows keep their original target text) and the actual values the
caller computed, keyed by catalogue code. Output: one sheet in the layout of the budget
office's form (一级/二级/三级指标, 年度指标值, 实际完成值, 是否达成, 分值, 得分, 偏差原因, 备注) and one
明细 sheet per indicator whose drill-down records were supplied.

Scoring rule (the usual weighting of these forms; change it with `weights=`):
* 预算执行率 10 points, 产出 50, 效益 30, 满意度 10; each level-1 share is split equally among
  that level's rows. A row whose level 1 cannot be told (neither 产出, 效益/效果 nor 满意) gets no
  weight and is marked for manual input.
* A numeric row with data: met → full weight; not met → weight × attainment, where attainment
  is actual/target for "≥", target/actual for "≤" (0 when the target is 0), smaller/larger for
  "=". The score never exceeds the weight (capped) nor goes below 0; two decimals.
* 预算执行率: 10 × min(执行数/预算数, 1); blank when the user gave no figures.
* Everything else — text targets ("全面提升"), rows not mapped to an indicator, indicators with
  no data (value None), targets in a unit the indicator does not measure ("≤30天" against a
  rate), targets beyond the indicator's range — keeps the original text, leaves 实际完成值 and
  得分 blank and says "需人工填写" in 备注, with the reason. The 合计 得分 is a SUM formula, so
  scores typed in by hand are counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from metrics.budget import BudgetExecution
from metrics.catalogue import CATALOGUE, units_compatible
from metrics.declaration import Declaration, DeclarationRow
from metrics.targets import Target, attainment, met
from metrics.xlsx_layout import (display_width, fit_row_heights, format_number, safe_sheet_title, set_widths,
                                 setup_print, write_header, write_level_rows, write_row, write_title)

DEFAULT_WEIGHTS: Mapping[str, float] = {"产出": 50.0, "效益": 30.0, "满意度": 10.0}
BUDGET_WEIGHT = 10.0
MANUAL = "需人工填写"
HEADERS = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "是否达成", "分值", "得分", "偏差原因", "备注")
WIDTHS = (10, 12, 28, 24, 13, 8, 7, 7, 30, 26)
HEADER_ROW = 3
RULE_TEXT = ("评分规则：预算执行率10分，产出50分、效益30分、满意度10分，各自在本级指标间平均分配；达成得满分，"
             "未达成按完成比例（实际/目标，≤类为目标/实际）计分，不超过分值；文字类指标及无数据指标需人工评分。")


@dataclass(frozen=True)
class ActualValue:
    """A measured value for one indicator code, with the records behind it (dicts with Chinese keys)."""

    value: float | None
    unit: str | None = None
    deviation_reason: str | None = None
    drilldown: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class EvaluatedRow:
    """One printed row: the declaration row, what was found for it, and why if it needs a person."""

    row: DeclarationRow
    weight: float | None
    actual_text: str
    achieved: bool | None
    score: float | None
    deviation_reason: str
    remark: str


def row_weights(rows: Sequence[DeclarationRow], weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> list[float | None]:
    """Each level-1 weight split equally among its rows; None for rows of an unknown level 1."""
    counts = Counter(r.level1_key for r in rows)
    return [weights[r.level1_key] / counts[r.level1_key] if r.level1_key in weights else None for r in rows]


def score_row(target: Target, actual: float | None, weight: float) -> float | None:
    """Full weight when met, else weight × attainment capped to [0, weight]; None when not computable."""
    reached = met(target, actual)
    if reached is None:
        return None
    if reached:
        return round(weight, 2)
    return round(weight * min(1.0, max(0.0, attainment(target, actual) or 0.0)), 2)


def budget_score(budget: BudgetExecution | None, weight: float = BUDGET_WEIGHT) -> float | None:
    """预算执行率 points: weight × min(rate, 100 %)."""
    if budget is None or budget.rate is None:
        return None
    return round(weight * min(budget.rate, 100.0) / 100.0, 2)


def row_blocker(row: DeclarationRow, value: float | None, unit: str | None = None) -> str | None:
    """Why a row cannot be computed from a value, in words for the 备注 column; None if it can."""
    target = row.scored_target
    if row.indicator_code is None:
        return "未对应到可由数据计算的指标"
    indicator = CATALOGUE[row.indicator_code]
    if not target.is_numeric:
        return "指标值为文字，请人工判断"
    if not units_compatible(target.unit, indicator.unit):
        return f"指标值单位（{target.unit}）与指标“{indicator.name_zh}”的单位（{indicator.unit}）不同"
    if indicator.upper_bound is not None and (target.value or 0) > indicator.upper_bound:
        return f"指标值超出指标“{indicator.name_zh}”的量程（最高{format_number(indicator.upper_bound)}）"
    if value is None:
        return f"指标“{indicator.name_zh}”无数据"
    if not units_compatible(unit, target.unit):
        return f"实际值单位（{unit}）与指标值单位（{target.unit}）不同"
    return None


def _notes(row: DeclarationRow) -> list[str]:
    """What a reader should double-check about a computed row's target."""
    notes = []
    if row.scored_target is not row.target:
        notes.append(f"按实施周期指标值 {row.scored_target.describe()} 评价")
    elif row.target.from_sentence:
        notes.append(f"指标值取自文字描述（{row.target.describe()}），请核对")
    return notes


def evaluate_row(row: DeclarationRow, actual: ActualValue | None, weight: float | None) -> EvaluatedRow:
    """Compute one row, or say exactly why a person has to."""
    reason = (actual.deviation_reason or "") if actual else ""
    value = actual.value if actual else None
    unit = (actual.unit if actual else None) or (CATALOGUE[row.indicator_code].unit if row.indicator_code else None)
    shown = format_number(value, unit)
    blocker = row_blocker(row, value, actual.unit if actual else None)
    if blocker is not None:
        return EvaluatedRow(row, weight, shown, None, None, reason, f"{MANUAL}：{blocker}")
    target = row.scored_target
    achieved = met(target, value)
    score = None if weight is None else score_row(target, value, weight)
    notes = _notes(row)
    if weight is None:
        notes.append(f"{MANUAL}：一级指标“{row.level1}”无法对应权重")
    if achieved is False and not reason:
        notes.append("请填写偏差原因")
    return EvaluatedRow(row, weight, shown, achieved, score, reason, "；".join(notes))


def evaluate(declaration: Declaration, actuals: Mapping[str, ActualValue],
             weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> list[EvaluatedRow]:
    """Every declaration row, in order, evaluated against the actual value of its indicator code."""
    return [evaluate_row(row, actuals.get(row.indicator_code or ""), weight)
            for row, weight in zip(declaration.rows, row_weights(declaration.rows, weights))]


def _budget_values(budget: BudgetExecution | None) -> list[Any]:
    """The first row of the form: 预算执行率 from the amounts the user entered, or a request for them."""
    head = ["预算执行", "预算执行率", "预算执行率 = 执行数 / 预算数", "100%"]
    if budget is None or budget.rate is None:
        return [*head, "", "—", BUDGET_WEIGHT, None, "", f"{MANUAL}：请录入预算数与执行数"]
    actual = (f"{format_number(budget.rate, '%')}（执行{format_number(budget.executed_wan)}万元"
              f"/预算{format_number(budget.budget_wan)}万元）")
    achieved = "是" if budget.rate >= 100.0 - 1e-9 else "否"
    return [*head, actual, achieved, BUDGET_WEIGHT, budget_score(budget), "", ""]


def _row_values(item: EvaluatedRow) -> list[Any]:
    achieved = {True: "是", False: "否", None: "—"}[item.achieved]
    return [item.row.level1, item.row.level2, item.row.indicator_text, item.row.target.original, item.actual_text,
            achieved, None if item.weight is None else round(item.weight, 2), item.score, item.deviation_reason,
            item.remark]


def _title(declaration: Declaration) -> str:
    year = f"{declaration.year}年度" if declaration.year else ""
    return f"{declaration.project or '（未注明项目名称）'}{year}项目支出绩效自评表"


def subtitle(declaration: Declaration, unit_name: str) -> str:
    """The line under a table's title: who reports, on which project, year and budget."""
    parts = [f"项目名称：{declaration.project or '—'}", f"预算年度：{declaration.year or '—'}",
             f"预算（万元）：{format_number(declaration.budget_wan) or '—'}"]
    if unit_name:
        parts.insert(0, f"填报单位：{unit_name}")
    return "　　".join(parts)


def _write_main(ws: Worksheet, declaration: Declaration, evaluated: list[EvaluatedRow],
                budget: BudgetExecution | None, unit_name: str) -> None:
    write_title(ws, 1, _title(declaration), len(HEADERS))
    write_title(ws, 2, subtitle(declaration, unit_name), len(HEADERS), size=10, bold=False)
    write_header(ws, HEADER_ROW, HEADERS)
    lines = [_budget_values(budget)] + [_row_values(e) for e in evaluated]
    first = HEADER_ROW + 1
    last = write_level_rows(ws, first, lines, left_columns=(3, 4, 9, 10), manual_columns=(5, 8, 10),
                            is_manual=lambda values: MANUAL in str(values[-1]))
    total_row = last + 1
    weights = [v[6] for v in lines if isinstance(v[6], (int, float))]
    write_row(ws, total_row, ["合计", "", "", "", "", "", round(sum(weights), 2), f"=SUM(H{first}:H{last})", "", ""])
    ws.merge_cells(start_row=total_row, end_row=total_row, start_column=1, end_column=6)
    write_title(ws, total_row + 1, RULE_TEXT, len(HEADERS), size=9, bold=False)
    set_widths(ws, WIDTHS)
    fit_row_heights(ws, first, total_row)
    ws.row_dimensions[total_row + 1].height = 30
    setup_print(ws, header_row=HEADER_ROW, last_column=len(HEADERS), last_row=total_row + 1)


def _write_drilldown(ws: Worksheet, title: str, records: list[dict[str, Any]]) -> None:
    columns: list[str] = list(dict.fromkeys(k for r in records for k in r))
    write_title(ws, 1, f"{title}（共{len(records)}条）", max(len(columns), 1), size=12)
    write_header(ws, 2, columns)
    for offset, record in enumerate(records, start=3):
        write_row(ws, offset, [record.get(c) for c in columns])
    set_widths(ws, [max(10, min(40, 2 + max(display_width(str(r.get(c) or "")) for r in records + [{c: c}])))
                    for c in columns])
    fit_row_heights(ws, 3, len(records) + 2)
    setup_print(ws, header_row=2, last_column=max(len(columns), 1), last_row=len(records) + 2)
    ws.auto_filter.ref = f"A2:{ws.cell(row=len(records) + 2, column=max(len(columns), 1)).coordinate}"


def write_self_evaluation(path: str | Path, declaration: Declaration, actuals: Mapping[str, ActualValue], *,
                          budget: BudgetExecution | None = None, weights: Mapping[str, float] = DEFAULT_WEIGHTS,
                          unit_name: str = "") -> Path:
    """Write the 绩效自评表 (sheet 绩效自评表) and one 明细 sheet per code with drill-down records."""
    workbook = Workbook()
    main = workbook.active
    main.title = "绩效自评表"
    _write_main(main, declaration, evaluate(declaration, actuals, weights), budget, unit_name)
    used_codes = dict.fromkeys(r.indicator_code for r in declaration.rows if r.indicator_code)
    for code in used_codes:
        actual = actuals.get(code)  # type: ignore[arg-type]
        if actual is None or not actual.drilldown:
            continue
        name = CATALOGUE[code].name_zh  # type: ignore[index]
        sheet = workbook.create_sheet(safe_sheet_title(f"明细-{name}", workbook.sheetnames))
        _write_drilldown(sheet, f"{name} 明细", actual.drilldown)
    path = Path(path)
    workbook.save(path)
    return path
