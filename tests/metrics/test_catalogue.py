"""The catalogue's entries and the name → code matching that declaration rows rely on."""

from __future__ import annotations

import pytest

from metrics.catalogue import CATALOGUE, UnknownIndicator, get_indicator, unit_class, units_compatible
from metrics.matching import match_indicator, normalise_name
from metrics.targets import parse_target

REQUIRED = {
    "online_rate": 95.0, "link_online_rate": 100.0, "terminal_online_rate": 100.0, "closure_rate": 98.0,
    "on_time_closure_rate": 90.0, "quality_score": 25.0, "reports_per_worker_month": 4.0,
    "visits_per_worker_month": 20.0, "rental_managed_rate": 98.0, "tenant_registration_rate": 95.0,
    "tenant_deregistration_rate": 95.0, "mediation_success_rate": 90.0, "dispute_reply_within_30_days_rate": 100.0,
    "satisfaction": 90.0, "trainings_held": 2.0, "weekly_reports_produced": None,
}


@pytest.mark.parametrize(("code", "target"), REQUIRED.items())
def test_required_indicators_and_default_targets(code: str, target: float | None) -> None:
    indicator = get_indicator(code)
    assert indicator.code == code and indicator.default_target == target
    assert indicator.direction in (">=", "<=")
    assert indicator.level1 in ("产出", "效益", "满意度")
    assert indicator.level2 in ("数量", "质量", "时效", "成本", "社会效益", "可持续影响", "服务对象满意度")
    assert indicator.name_zh and indicator.formula_zh and indicator.aliases
    assert set(indicator.scope_levels) <= {"grid", "community", "street", "district"}


@pytest.mark.parametrize("indicator", CATALOGUE.values(), ids=list(CATALOGUE))
def test_rates_are_percent_and_bounded(indicator) -> None:  # type: ignore[no-untyped-def]
    if indicator.unit == "%":
        assert indicator.upper_bound == 100.0
    if indicator.default_target is not None and indicator.upper_bound is not None:
        assert indicator.default_target <= indicator.upper_bound
    if indicator.variant_of is not None:
        assert indicator.variant_of in CATALOGUE


def test_satisfaction_formula_is_the_seed_003_formula() -> None:
    assert "一般 + 满意 + 非常满意" in get_indicator("satisfaction").formula_zh
    assert get_indicator("closure_rate").formula_zh.startswith("办结数 / 上报数")


def test_no_alias_names_two_unrelated_indicators() -> None:
    owners: dict[str, set[str]] = {}
    for indicator in CATALOGUE.values():
        for alias in (indicator.name_zh, *indicator.aliases):
            owners.setdefault(normalise_name(alias), set()).add(indicator.variant_of or indicator.code)
    assert {a: c for a, c in owners.items() if len(c) > 1} == {}


def test_unknown_code_names_the_known_ones() -> None:
    with pytest.raises(UnknownIndicator) as caught:
        get_indicator("closing_rate")
    assert "closure_rate" in caught.value.message_en and "未知的指标编码" in str(caught.value)
    assert isinstance(caught.value, KeyError)


@pytest.mark.parametrize(("name", "target", "code", "method"), [
    ("设备在线率", None, "online_rate", "exact"),
    ("视频监控点位设备在线率", "≥95%", "online_rate", "exact"),
    ("网格事件办结率", "≥98%", "closure_rate", "exact"),
    ("网格事件正常办结率", None, "on_time_closure_rate", "exact"),
    ("网格事件流转时限", None, "on_time_closure_rate", "exact"),
    ("上报网格事件质量", "以街镇为单位月度网格考评事件质量方面平均分不得少于25分(总分30分)", "quality_score", "exact"),
    ("上报网格事件质量", "以街镇为单位月度网格考评事件质量方面平均分不得少于55分(总分60分)", "quality_score_60", "exact"),
    ("上报网格事件质量", "按实际报送", "quality_score", "exact"),
    ("日常巡查情况", None, "visits_per_worker_month", "exact"),
    ("上报网格事件数量", None, "reports_per_worker_month", "exact"),
    ("出租屋纳管率", None, "rental_managed_rate", "exact"),
    ("来穗人员居住信息登记率", None, "tenant_registration_rate", "exact"),
    ("已安装门禁系统的出租屋内来穗人员注销率", None, "tenant_deregistration_rate", "exact"),
    ("案件调解率", None, "mediation_success_rate", "exact"),
    ("调解案件结案效率", "≤30天", "dispute_reply_within_30_days_rate", "exact"),
    ("政法四级网链路正常使用", None, "link_online_rate", "exact"),
    ("会议系统终端在线率", None, "terminal_online_rate", "exact"),
    ("保证综治视联网设备、链路正常", None, "terminal_online_rate", "exact"),
    (" 指标2：举办网格员培训班", None, "trainings_held", "exact"),
    ("指标3：横向联通110,119，每周五定期分析研判社会治安形势，编制情况周报。", None, "weekly_reports_produced",
     "contains"),
    ("指标1：群众对网格员满意度", None, "satisfaction", "contains"),
    ("社区治理满意度", None, "satisfaction", "exact"),
    ("网格事件办结率达标情况", None, "closure_rate", "contains"),
    ("网格事件正常办结率（时限内）", None, "on_time_closure_rate", "contains"),
    ("网格事件办结律", None, "closure_rate", "fuzzy"),
    ("来穗人员登记率、注销率达到市、区任务目标", None, None, "ambiguous"),
    ("安装数量", None, None, "none"),
    ("来穗人员幸福感、安全感和归属感", None, None, "none"),
    ("", None, None, "none"),
])
def test_match_indicator(name: str, target: str | None, code: str | None, method: str) -> None:
    found = match_indicator(name, parse_target(target) if target else None)
    assert (found.code, found.method) == (code, method)


@pytest.mark.parametrize(("a", "b", "ok"), [
    ("%", "%", True), (None, "%", True), ("%", None, True), ("天", "%", False), ("件", "次", True),
    ("分", "%", False), ("元/户", "万元", True), ("个工作日", "天", True),
])
def test_units_compatible(a: str | None, b: str | None, ok: bool) -> None:
    assert units_compatible(a, b) is ok


def test_unit_classes() -> None:
    assert (unit_class("%"), unit_class("场"), unit_class(None)) == ("percent", "count", None)
