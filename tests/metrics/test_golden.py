"""The self-evaluation checked against itself: a golden file, and the cross-checks every table must pass.

The golden workbook (tests/metrics/documents.py) was rendered and looked at once
(docs/self_evaluation_golden.png: weights, scores, totals and the rule text checked by hand);
since then it is compared cell by cell, so any change to a printed value is a deliberate one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from metrics.budget import BudgetExecution
from metrics.declaration import Declaration, read_declarations
from metrics.self_evaluation import (BUDGET_WEIGHT, DEFAULT_WEIGHTS, ActualValue, largest_remainder, row_weights,
                                     write_self_evaluation)
from tests.metrics import documents
from tests.metrics.seed_xlsx import DATA_DIR

DECLARATIONS = [d for f in ("seed_001.xlsx", "seed_002.xlsx", "seed_003.xlsx") for d in read_declarations(DATA_DIR / f)]


def test_golden_self_evaluation(tmp_path: Path) -> None:
    expected = json.loads(documents.GOLDEN_JSON.read_text(encoding="utf-8"))
    actual = documents.cell_values(documents.golden_self_evaluation(tmp_path / "golden.xlsx"))
    assert list(actual) == list(expected)
    for sheet, rows in expected.items():
        assert actual[sheet] == rows, sheet


@pytest.mark.parametrize("rows", range(1, 14))
def test_a_split_adds_up_to_the_level_weight(rows: int) -> None:
    shares = largest_remainder(5000, [1] * rows)
    assert sum(shares) == 5000 and max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the extra hundredths go to the first rows


def test_largest_remainder_by_proportion() -> None:
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert largest_remainder(1000, [2, 1, 1]) == [500, 250, 250]
    assert largest_remainder(10, [1, 2, 4]) == [1, 3, 6]  # 1.43, 2.86, 5.71: the largest remainders win


def _missing_everything(declaration: Declaration) -> dict[str, ActualValue]:
    """Every mapped indicator at 1 (misses every ≥ target), records for some, none for others."""
    codes = {r.indicator_code for r in declaration.rows if r.indicator_code}
    return {c: ActualValue(1.0, drilldown=[{"编号": f"{c}-1"}] if i % 2 else [])
            for i, c in enumerate(sorted(codes))}


@pytest.mark.parametrize("declaration", DECLARATIONS, ids=lambda d: d.sheet)
def test_every_seed_table_cross_checks(tmp_path: Path, declaration: Declaration) -> None:
    """分值 add up exactly to the total the rule states; every 否 row has its 明细 sheet; data_only sees the totals."""
    path = write_self_evaluation(tmp_path / "t.xlsx", declaration, _missing_everything(declaration), year=2026,
                                 budget=BudgetExecution(declaration.budget_wan, (declaration.budget_wan or 1) * 0.9))
    book = load_workbook(path, data_only=True)
    ws = book["绩效自评表"]
    rows = list(ws.iter_rows(values_only=True))
    total = next(r for r in rows if r[0] == "合计")
    body = rows[rows.index(next(r for r in rows if r[0] == "一级指标")) + 1: rows.index(total)]
    levels = {r.level1_key for r in declaration.rows if r.level1_key}
    declared_total = BUDGET_WEIGHT + sum(w for k, w in DEFAULT_WEIGHTS.items() if k in levels)
    assert isinstance(total[6], (int, float)) and isinstance(total[7], (int, float))  # values, not formulas
    weights = round(sum(r[6] for r in body if r[6] is not None) * 100)
    assert weights == round(total[6] * 100) == round(declared_total * 100)
    assert round(sum(r[7] for r in body if r[7] is not None) * 100) == round(total[7] * 100)
    assert f"分值合计恰为{declared_total:g}分" in rows[rows.index(total) + 1][0]
    for r in body:  # the budget execution row (90 % spent: 否) included
        if r[5] == "否":
            sheet = r[9].rsplit("明细见工作表“", 1)[1].rstrip("”")
            assert sheet in book.sheetnames and book[sheet]["A1"].value.startswith(r[1] if r is body[0] else r[2])
    assert body[0][5] == "否" and len(book.sheetnames) == 1 + sum(1 for r in body if r[5] == "否")


def test_row_weights_are_exact_per_level() -> None:
    for declaration in DECLARATIONS:
        weights = row_weights(declaration.rows)
        for key, total in DEFAULT_WEIGHTS.items():
            level = [w for w, r in zip(weights, declaration.rows) if r.level1_key == key]
            if level:
                assert round(sum(level) * 100) == round(total * 100)


def test_a_declaration_of_another_year_is_stated_not_relabelled(tmp_path: Path) -> None:
    declaration = read_declarations(DATA_DIR / "seed_002.xlsx")[0]
    assert declaration.year == 2021 and declaration.budget_wan == 189.8
    ws = load_workbook(write_self_evaluation(tmp_path / "x.xlsx", declaration, {}, year=2026,
                                             budget=BudgetExecution(200.0, 150.0)))["绩效自评表"]
    assert ws["A1"].value.endswith("2026年度项目支出绩效自评表")
    assert "预算年度：2026" in ws["A2"].value and "预算：200.00万元" in ws["A2"].value
    assert ws["A3"].value == "注意：申报表年度为2021年，本表按2026年度数据计算，请核对申报表是否为本年度。"
    assert ws["A4"].value == "注意：申报表预算为189.80万元，本表按录入的预算200.00万元计算。"
    assert ws["A5"].value == "一级指标" and ws.print_title_rows == "$5:$5"
    assert ws["E6"].value == "75.00%（执行150.00万元/预算200.00万元）"


def test_the_declared_budget_is_used_when_none_is_entered(tmp_path: Path) -> None:
    declaration = read_declarations(DATA_DIR / "seed_002.xlsx")[0]
    ws = load_workbook(write_self_evaluation(tmp_path / "x.xlsx", declaration, {}, year=2021,
                                             budget=BudgetExecution(None, 170.82)))["绩效自评表"]
    assert ws["A3"].value == "一级指标"  # same year, no budget entered: nothing to warn about
    assert ws["E4"].value == "90.00%（执行170.82万元/预算189.80万元）"
