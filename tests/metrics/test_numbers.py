"""The one number rule of every document: separators, fixed decimals per unit, integers whole, never `e+`."""

from __future__ import annotations

import pytest

from metrics.numbers import count, excel_format, number, percent_change, plain


@pytest.mark.parametrize(("value", "unit", "text"), [
    (96.2, "%", "96.20%"), (1123790.5, "小时", "1,123,790.5小时"), (278, "件", "278件"), (4.3, "件", "4.30件"),
    (15000, "", "15,000"), (189.8, "万元", "189.80万元"), (53.29, "分", "53.29分"), (3.0, "台", "3台"),
    (2.5, "台", "2.50台"), (1e21, "元", "1,000,000,000,000,000,000,000.00元"), (None, "%", ""),
    (float("nan"), "%", "—"), (0.0, "%", "0.00%"), (-3.456, "天", "-3.5天"),
])
def test_number(value: float | None, unit: str, text: str) -> None:
    assert number(value, unit) == text


@pytest.mark.parametrize(("value", "unit", "text"), [
    (95.0, "%", "95%"), (20.0, "次", "20次"), (189.8, "万元", "189.8万元"), (1e-7, "", "0"), (1.5e6, "", "1,500,000"),
])
def test_plain_echoes_targets_as_declared(value: float, unit: str, text: str) -> None:
    assert plain(value, unit) == text


def test_counts_changes_and_excel_formats() -> None:
    assert count(176) == "176" and count(12345, "件") == "12,345件"
    assert percent_change(220, 200) == "+20（+10.0%）" and percent_change(5, 0) == "+5" and percent_change(3, 3) == "持平"
    assert excel_format("分") == "#,##0.00" and excel_format("台") == "#,##0" and excel_format("小时") == "#,##0.0"


@pytest.mark.parametrize("value", [1e-30, 1e30, 123456789012345678.0, 0.000123])
def test_never_scientific(value: float) -> None:
    assert "e" not in number(value, "%").lower() and "e" not in plain(value).lower()
