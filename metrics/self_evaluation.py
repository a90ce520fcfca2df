"""The year-end self-evaluation table (绩效自评表) as a print-ready xlsx: computed where data allows, never invented.

Input: a `Declaration` (its rows keep their original target text) and the actual values the
caller computed, keyed by catalogue code. Output: one sheet in the layout of the budget
office's form (一级/二级/三级指标, 年度指标值, 实际完成值, 是否达成, 分值, 得分, 偏差原因, 备注) and one
明细 sheet per row marked 否 (decided per row: two rows of one indicator can have different targets).

The year and budget printed are the ones used (`table_context`): the year evaluated and the budget
entered, with a red line under the title when the declaration says another year or budget.

Scoring rule (the usual weighting of these forms; change it with `weights=`; `rule_text` prints it):
* 预算执行率 10 points, 产出 50, 效益 30, 满意度 10; each level-1 share is split equally among
  that level's rows in hundredths by the largest-remainder method, so the 分值 add up to exactly
  the total (50 over 3 rows: 16.67 + 16.67 + 16.66). A row whose level 1 cannot be told (neither
  产出, 效益/效果 nor 满意) gets no weight and is marked for manual input.
* A numeric row with data: met → full weight; not met → weight × attainment, where attainment
  is actual/target for "≥", target/actual for "≤" (0 when the target is 0), smaller/larger for
  "=". The score never exceeds the weight (capped) nor goes below 0; two decimals.
* 预算执行率: 10 × min(执行数/预算数, 1); blank when the user gave no figures.
* Everything else — text targets ("全面提升"), rows not mapped to an indicator, indicators with
  no data (value None), targets in a unit the indicator does not measure ("≤30天" against a
  rate), targets beyond the indicator's range — keeps the original text, leaves 实际完成值 and
  得分 blank and says "需人工填写" in 备注, with the reason.
* The 合计 row holds values computed here, not formulas: openpyxl cannot compute a formula, and a
  file saved without a computed value shows an empty total to every reader that does not
  recalculate (previewers, import tools, `data_only`). Numbers follow `metrics.numbers`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from metrics.budget import BudgetExecution
from metrics.catalogue import CATALOGUE, units_compatible
from metrics.declaration import Declaration, DeclarationRow
from metrics.targets import Target, attainment, met
from metrics.numbers import excel_format, number, plain
from metrics.xlsx_layout import (FONT_NAME, cell_value, display_width, fit_row_heights, safe_sheet_title, set_widths,
                                 setup_print, write_header, write_level_rows, write_row, write_title)

DEFAULT_WEIGHTS: Mapping[str, float] = {"产出": 50.0, "效益": 30.0, "满意度": 10.0}
BUDGET_WEIGHT = 10.0
MANUAL = "需人工填写"
HEADERS = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "是否达成", "分值", "得分", "偏差原因", "备注")
WIDTHS = (10, 12, 28, 24, 13, 8, 7, 7, 30, 26)


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
    """Each level-1 weight split equally among its rows in hundredths that add up exactly (largest remainder).

    A level's share in hundredths of a point is divided by its row count; the hundredths left over
    go one each to the rows with the largest remainders, which for an equal split are the level's
    first rows in table order (50 over 3 rows: 16.67, 16.67, 16.66). None for rows of an unknown level 1.
    """
    keys = [r.level1_key for r in rows]
    cents: list[int | None] = [None] * len(rows)
    for key, weight in weights.items():
        members = [i for i, k in enumerate(keys) if k == key]
        if not members:
            continue
        shares = largest_remainder(round(weight * 100), [1] * len(members))
        for i, share in zip(members, shares):
            cents[i] = share
    return [None if c is None else c / 100 for c in cents]


def largest_remainder(total: int, parts: Sequence[int]) -> list[int]:
    """`total` (an integer: hundredths) split in proportion to `parts`, summing exactly to `total`.

    Every part gets the floor of its exact share; the units left over go to the largest
    fractional remainders, ties to the earlier part.
    """
    whole = sum(parts)
    exact = [Fraction(total * p, whole) for p in parts]
    floors = [math.floor(x) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def rule_text(weights: Mapping[str, float] = DEFAULT_WEIGHTS, budget_weight: float = BUDGET_WEIGHT,
              present: Sequence[str] | None = None) -> str:
    """The scoring rule printed under the table: the weights, how the hundredths of a split are placed,
    and the total the 分值 add up to (a level without rows adds nothing, and the text says so)."""
    levels = "、".join(f"{k}{plain(v)}分" for k, v in weights.items())
    used = list(weights) if present is None else [k for k in weights if k in present]
    missing = [k for k in weights if k not in used]
    total = plain(budget_weight + sum(weights[k] for k in used))
    absent = f"本表无{'、'.join(missing)}指标，" if missing else ""
    return (f"评分规则：预算执行率{plain(budget_weight)}分，{levels}，各自在本级指标间平均分配；分值保留两位小数，"
            f"分不尽的0.01分按表中顺序依次加给本级靠前的指标（最大余数法），{absent}分值合计恰为{total}分。达成得满分，"
            "未达成按完成比例（实际/目标，≤类为目标/实际）计分，不超过分值；文字类指标及无数据指标需人工评分，"
            "人工评分后请重新合计得分。")


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
        return f"指标值超出指标“{indicator.name_zh}”的量程（最高{plain(indicator.upper_bound)}）"
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
    shown = number(value, unit)
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


@dataclass(frozen=True)
class TableContext:
    """What the title and subtitle say, from one source: the year evaluated, the budget used, and
    every disagreement between the declaration and what the caller asked for, in words."""

    project: str
    year: int | None
    budget: BudgetExecution | None
    unit_name: str = ""
    warnings: tuple[str, ...] = ()


def table_context(declaration: Declaration, *, year: int | None = None, budget: BudgetExecution | None = None,
                  unit_name: str = "") -> TableContext:
    """The year is the one evaluated (`year`, else the declaration's); the budget the one entered (else the
    declaration's). A declaration of another year or budget is not silently relabelled: it is a warning."""
    warnings = []
    if year is not None and declaration.year is not None and declaration.year != year:
        warnings.append(f"注意：申报表年度为{declaration.year}年，本表按{year}年度数据计算，请核对申报表是否为本年度。")
    declared = declaration.budget_wan
    entered = budget.budget_wan if budget is not None else None
    if entered is not None and declared is not None and abs(entered - declared) > 0.005:
        warnings.append(f"注意：申报表预算为{number(declared, '万元')}，本表按录入的预算{number(entered, '万元')}计算。")
    if budget is not None and entered is None and declared is not None:
        budget = replace(budget, budget_wan=declared)
    elif budget is None and declared is not None:
        budget = BudgetExecution(budget_wan=declared, executed_wan=None)
    return TableContext(project=declaration.project, year=year if year is not None else declaration.year,
                        budget=budget, unit_name=unit_name, warnings=tuple(warnings))


def subtitle(context: TableContext) -> str:
    """The line under a table's title: who reports, on which project, year and budget (the ones used)."""
    budget_wan = context.budget.budget_wan if context.budget else None
    parts = [f"项目名称：{context.project or '—'}", f"预算年度：{context.year or '—'}",
             f"预算：{number(budget_wan, '万元') or '—'}"]
    if context.unit_name:
        parts.insert(0, f"填报单位：{context.unit_name}")
    return "　　".join(parts)


def write_heading(ws: Worksheet, context: TableContext, title: str, columns: int) -> int:
    """Title, subtitle and any warnings (in red); returns the next free row."""
    write_title(ws, 1, title, columns)
    write_title(ws, 2, subtitle(context), columns, size=10, bold=False)
    row = 3
    for warning in context.warnings:
        write_title(ws, row, warning, columns, size=10, bold=True, centred=False)
        ws.cell(row=row, column=1).font = Font(name=FONT_NAME, size=10, bold=True, color="C00000")
        row += 1
    return row


BUDGET_SHEET = "明细-预算执行率"


def budget_missed(budget: BudgetExecution | None) -> bool:
    return budget is not None and budget.rate is not None and budget.rate < 100.0 - 1e-9


def _budget_values(budget: BudgetExecution | None) -> list[Any]:
    """The first row of the form: 预算执行率 from the amounts the user entered, or a request for them."""
    head = ["预算执行", "预算执行率", "预算执行率 = 执行数 / 预算数", "100%"]
    if budget is None or budget.rate is None:
        return [*head, "", "—", BUDGET_WEIGHT, None, "", f"{MANUAL}：请录入预算数与执行数"]
    actual = (f"{number(budget.rate, '%')}（执行{number(budget.executed_wan, '万元')}"
              f"/预算{number(budget.budget_wan, '万元')}）")
    missed = budget_missed(budget)
    return [*head, actual, "否" if missed else "是", BUDGET_WEIGHT, budget_score(budget), "",
            f"明细见工作表“{BUDGET_SHEET}”" if missed else ""]


def _budget_records(budget: BudgetExecution) -> list[dict[str, Any]]:
    """The detail of a missed 预算执行率: the amounts entered and what is left unspent."""
    assert budget.budget_wan is not None and budget.executed_wan is not None and budget.rate is not None
    return [{"预算数": number(budget.budget_wan, "万元"), "执行数": number(budget.executed_wan, "万元"),
             "执行率": number(budget.rate, "%"), "未执行金额": number(budget.budget_wan - budget.executed_wan, "万元"),
             "说明": "预算数与执行数由填报单位录入（平台无财务台账），请附支出明细账"}]


def _row_values(item: EvaluatedRow, sheet: str | None) -> list[Any]:
    achieved = {True: "是", False: "否", None: "—"}[item.achieved]
    remark = "；".join(filter(None, [item.remark, f"明细见工作表“{sheet}”" if sheet else ""]))
    return [item.row.level1, item.row.level2, item.row.indicator_text, item.row.target.original, item.actual_text,
            achieved, item.weight, item.score, item.deviation_reason, remark]


def _title(context: TableContext) -> str:
    year = f"{context.year}年度" if context.year else ""
    return f"{context.project or '（未注明项目名称）'}{year}项目支出绩效自评表"


def _write_main(ws: Worksheet, context: TableContext, evaluated: list[EvaluatedRow], sheets: Sequence[str | None],
                weights: Mapping[str, float]) -> int:
    """The form; returns the 合计 row. Totals are values (computed here), not formulas, so every reader sees them."""
    header_row = write_heading(ws, context, _title(context), len(HEADERS))
    write_header(ws, header_row, HEADERS)
    lines = [_budget_values(context.budget)] + [_row_values(e, s) for e, s in zip(evaluated, sheets)]
    first = header_row + 1
    last = write_level_rows(ws, first, lines, left_columns=(3, 4, 9, 10), manual_columns=(5, 8, 10),
                            is_manual=lambda values: MANUAL in str(values[-1]))
    total_row = last + 1
    weight_total = sum(round(v[6] * 100) for v in lines if isinstance(v[6], (int, float))) / 100
    score_total = sum(round(v[7] * 100) for v in lines if isinstance(v[7], (int, float))) / 100
    write_row(ws, total_row, ["合计", "", "", "", "", "", weight_total, score_total, "", ""])
    ws.merge_cells(start_row=total_row, end_row=total_row, start_column=1, end_column=6)
    for row in range(first, total_row + 1):
        for column in (7, 8):
            ws.cell(row=row, column=column).number_format = excel_format("分")
    present = {e.row.level1_key for e in evaluated if e.weight is not None}
    write_title(ws, total_row + 1, rule_text(weights, present=[k for k in weights if k in present]), len(HEADERS),
                size=9, bold=False)
    set_widths(ws, WIDTHS)
    fit_row_heights(ws, 1, total_row + 1)
    setup_print(ws, header_row=header_row, last_column=len(HEADERS), last_row=total_row + 1)
    return total_row


def _write_drilldown(ws: Worksheet, title: str, records: list[dict[str, Any]]) -> None:
    columns: list[str] = list(dict.fromkeys(k for r in records for k in r))
    write_title(ws, 1, f"{title}（共{len(records)}条）", max(len(columns), 1), size=12)
    write_header(ws, 2, columns)
    for offset, record in enumerate(records, start=3):
        write_row(ws, offset, [record.get(c) for c in columns])
        for cell in ws[offset]:  # a large number in General format prints as 1.12E+06: never
            if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                cell.number_format = excel_format(decimals=0 if isinstance(cell.value, int) else None)
    set_widths(ws, [max(10, min(40, 2 + max(display_width(str(cell_value(r.get(c)) or "")) for r in records + [{c: c}])))
                    for c in columns])
    fit_row_heights(ws, 1, len(records) + 2)
    setup_print(ws, header_row=2, last_column=max(len(columns), 1), last_row=len(records) + 2)
    ws.auto_filter.ref = f"A2:{ws.cell(row=len(records) + 2, column=max(len(columns), 1)).coordinate}"


def _summary_records(item: EvaluatedRow) -> list[dict[str, Any]]:
    """The detail of a missed row whose indicator has no record-level drill-down: how the figure is made."""
    code = item.row.indicator_code
    indicator = CATALOGUE[code] if code in CATALOGUE else None
    return [{"三级指标": item.row.indicator_text, "对应指标": indicator.name_zh if indicator else "—",
             "计算口径": indicator.formula_zh if indicator else "—", "指标值": item.row.scored_target.describe(),
             "实际完成值": item.actual_text, "说明": "该指标无逐条明细记录，请按计算口径核对原始台账"}]


def _detail_sheets(evaluated: Sequence[EvaluatedRow], taken: Sequence[str]) -> list[str | None]:
    """One 明细 sheet name per row marked 否, decided per row (two rows of one indicator may differ)."""
    names: list[str | None] = []
    used = list(taken)
    for item in evaluated:
        if item.achieved is False:
            name = safe_sheet_title(f"明细-{item.row.indicator_text}", used)
            used.append(name)
            names.append(name)
        else:
            names.append(None)
    return names


def write_self_evaluation(path: str | Path, declaration: Declaration, actuals: Mapping[str, ActualValue], *,
                          year: int | None = None, budget: BudgetExecution | None = None,
                          weights: Mapping[str, float] = DEFAULT_WEIGHTS, unit_name: str = "") -> Path:
    """Write the 绩效自评表 (sheet 绩效自评表) and one 明细 sheet per row marked 否 (预算执行率 included).

    `year` is the year the actual values are for; a declaration of another year is stated under
    the title (see `table_context`). A row's detail sheet holds the records behind its indicator
    or, when the indicator has none, how its figure is computed.
    """
    context = table_context(declaration, year=year, budget=budget, unit_name=unit_name)
    evaluated = evaluate(declaration, actuals, weights)
    workbook = Workbook()
    main = workbook.active
    main.title = "绩效自评表"
    sheets = _detail_sheets(evaluated, [main.title, BUDGET_SHEET])
    _write_main(main, context, evaluated, sheets, weights)
    if budget_missed(context.budget):
        assert context.budget is not None
        _write_drilldown(workbook.create_sheet(BUDGET_SHEET), "预算执行率 明细", _budget_records(context.budget))
    for item, name in zip(evaluated, sheets):
        if name is None:
            continue
        actual = actuals.get(item.row.indicator_code or "")
        records = actual.drilldown if actual and actual.drilldown else _summary_records(item)
        _write_drilldown(workbook.create_sheet(name), f"{item.row.indicator_text} 明细", records)
    path = Path(path)
    workbook.save(path)
    return path
