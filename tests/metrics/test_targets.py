"""parse_target / met / attainment: the target texts of the four seeds and the spellings declarations use."""

from __future__ import annotations

import pytest

from metrics.targets import Target, attainment, met, parse_target
from tests.metrics.seed_xlsx import SEEDS

# Every seed target that is a number, with what it must parse to; every other seed target must be text.
SEED_NUMERIC = {
    "≥680": (">=", 680.0, None), "≥95%": (">=", 95.0, "%"), "≥90%": (">=", 90.0, "%"), "≥21": (">=", 21.0, None),
    "100%": (">=", 100.0, "%"), "90%以上": (">=", 90.0, "%"), "20元/户": ("==", 20.0, "元/户"),
    "≥90": (">=", 90.0, None), "≥50000张": (">=", 50000.0, "张"), "≥3次": (">=", 3.0, "次"),
    "20%以上": (">=", 20.0, "%"), "≤0次": ("<=", 0.0, "次"), "≧3": (">=", 3.0, None), "≧90%": (">=", 90.0, "%"),
    "≥0.05%": (">=", 0.05, "%"), "≤30天": ("<=", 30.0, "天"), "95%": (">=", 95.0, "%"), "≥50起": (">=", 50.0, "起"),
    "1个": (">=", 1.0, "个"), "≥5次": (">=", 5.0, "次"), "0": ("<=", 0.0, None), "90%": (">=", 90.0, "%"),
    "完成率100%": (">=", 100.0, "%"), "流转处置完成率100%": (">=", 100.0, "%"),
    "及时有效处置各类社会治理相关诉求、协助完成行政执法任务。流转处置完成率100%": (">=", 100.0, "%"),
    "98%以上": (">=", 98.0, "%"), "日常出勤训练率达98%以上": (">=", 98.0, "%"),
    "提高网格员事项采集的精准性和采办质量,网格事件办结率达98%以上": (">=", 98.0, "%"),
    "提高网格员事项采集的精准性和采办质量, 网格事件办结率达98%以上": (">=", 98.0, "%"),
    "网格事件顺利流转,网格事件正常办结率达90%以上": (">=", 90.0, "%"),
    "网格事件顺利流转, 网格事件正常办结率达90%以上": (">=", 90.0, "%"),
    "以街镇为单位月度网格考评事件质量方面平均分不得少于25分(总分30分)": (">=", 25.0, "分"),
    "以街镇为单位月度网格考评事件质量方面平均分不得少于55分(总分60分)": (">=", 55.0, "分"),
    "13篇": (">=", 13.0, "篇"), "48条": (">=", 48.0, "条"), "12场": (">=", 12.0, "场"), "24篇": (">=", 24.0, "篇"),
    "在全国重点新闻网站首页上对黄埔政法工作进行推广,设计黄埔区政法领域的内容全年总数不少于100条": (">=", 100.0, "条"),
    "建立日常管理机制,做好宣传内容的策划及生产,全年拟制定主题策划方案5次": (">=", 5.0, "次"),
    "抽取部分辖区居民调查其对网格服务管理工作的满意度, 满意度需达90%以上": (">=", 90.0, "%"),
    "支持2000个并发在线使用": (">=", 2000.0, "个"), "查询统计响应速度在10秒内": ("<=", 10.0, "秒"),
    "95%以上": (">=", 95.0, "%"), "98%": (">=", 98.0, "%"), "80%": (">=", 80.0, "%"),
    "成本减少比例20%以上": (">=", 20.0, "%"), "85分以上": (">=", 85.0, "分"),
    "开展金雁关爱项目100%": (">=", 100.0, "%"), "满意度达90%以上": (">=", 90.0, "%"),
    "开展各项专项行动100%": (">=", 100.0, "%"), "开展融合大学堂、融合服务周100%": (">=", 100.0, "%"),
    "完成审核100%": (">=", 100.0, "%"), "合同期内保证115个村居覆盖视联网": (">=", 115.0, "个"),
    "专职网格员每季度巡查走访更新重点人员信息, 重点人员信息掌握率100%": (">=", 100.0, "%"),
    "以街镇为单位, 专职网格员每月至少到网格巡查走访20次": (">=", 20.0, "次"),
    "以街镇为单位, 专职网格员人均网格事件月度上报量不少于4件": (">=", 4.0, "件"),
    "每年举办2场网格员业务培训会": (">=", 2.0, "场"), "满意度在90%以上。": (">=", 90.0, "%"),
    "满意度在85%以上。": (">=", 85.0, "%"),
}


def _seed_targets() -> list[str]:
    """Every distinct target text the transcribed seeds hold (annual and, for 003, period targets)."""
    found: dict[str, None] = {}
    for projects in SEEDS.values():
        for project in projects:
            columns = [project.target_column] + [i for i, h in enumerate(project.header) if h == "实施周期指标值"]
            for row in project.rows:
                found.update({row[c]: None for c in columns})
    return list(found)


SEED_TARGETS = _seed_targets()


@pytest.mark.parametrize("text", SEED_TARGETS)
def test_every_seed_target_parses_to_a_number_or_explicit_text(text: str) -> None:
    target = parse_target(text)
    assert target.original == text
    if text in SEED_NUMERIC:
        assert (target.kind, target.direction, target.value, target.unit) == ("numeric", *SEED_NUMERIC[text])
    else:
        assert (target.kind, target.direction, target.value, target.unit) == ("text", None, None, None)


def test_the_numeric_table_lists_only_seed_targets() -> None:
    assert set(SEED_NUMERIC) <= set(SEED_TARGETS)
    assert len(SEED_TARGETS) > 120


@pytest.mark.parametrize(("text", "direction", "value", "unit"), [
    ("不低于95％", ">=", 95.0, "%"), ("９５％", ">=", 95.0, "%"), (">=95%", ">=", 95.0, "%"), ("≥ 95 %", ">=", 95.0, "%"),
    ("达到98%", ">=", 98.0, "%"), ("不少于4件", ">=", 4.0, "件"), ("至少20次", ">=", 20.0, "次"),
    ("95%及以上", ">=", 95.0, "%"), ("≤5%", "<=", 5.0, "%"), ("≦2起", "<=", 2.0, "起"), ("<=3天", "<=", 3.0, "天"),
    ("不高于1%", "<=", 1.0, "%"), ("不超过5起", "<=", 5.0, "起"), ("3个工作日以内", "<=", 3.0, "个工作日"),
    ("10%以下", "<=", 10.0, "%"), ("=100%", "==", 100.0, "%"), ("1,000人", ">=", 1000.0, "人"),
    ("5万份", ">=", 50000.0, "份"), ("189.8万元", ">=", 189.8, "万元"), ("4件/月", ">=", 4.0, "件/月"),
    ("0起", "<=", 0.0, "起"), ("12场。", ">=", 12.0, "场"), ("≥0.5‰", ">=", 0.5, "‰"),
])
def test_declaration_spellings(text: str, direction: str, value: float, unit: str | None) -> None:
    target = parse_target(text)
    assert (target.kind, target.direction, target.value, target.unit) == ("numeric", direction, value, unit)
    assert target.from_sentence is False


@pytest.mark.parametrize("text", [
    "", "   ", "按实际报送", "全面提升", "良好", "是", "全覆盖", "≥90–98%", "90%-95%", "1-2场", "每月一期",
    "2021年完成", "网格事件办结率=办结数/上报数", "报送4条/月*12=48条", "登记率95%以上；注销率98%以上",
    "提交全区综合网格矢量成果数据, shp格式, 2000国家大地坐标系至市来穗局",
])
def test_text_targets_never_get_a_number(text: str) -> None:
    target = parse_target(text)
    assert target.kind == "text" and target.value is None and target.direction is None


@pytest.mark.parametrize(("text", "direction", "value", "unit"), [
    ("网格事件办结率达98%以上", ">=", 98.0, "%"), ("平均分不得少于25分(总分30分)", ">=", 25.0, "分"),
    ("查询统计响应速度在10秒内", "<=", 10.0, "秒"), ("每年举办2场网格员业务培训会", ">=", 2.0, "场"),
])
def test_numbers_in_sentences_are_flagged(text: str, direction: str, value: float, unit: str) -> None:
    target = parse_target(text)
    assert (target.direction, target.value, target.unit, target.from_sentence) == (direction, value, unit, True)


@pytest.mark.parametrize(("text", "actual", "expected"), [
    ("≥95%", 95.0, True), ("≥95%", 94.99, False), ("≥95%", 100.0, True), ("100%", 100.0, True),
    ("100%", 99.9, False), ("≤30天", 30.0, True), ("≤30天", 31.0, False), ("0", 0.0, True), ("0", 1.0, False),
    ("20元/户", 20.0, True), ("20元/户", 21.0, False), ("≥95%", None, None), ("全面提升", 100.0, None),
    ("按实际报送", None, None), ("≥95%", float("nan"), None),
])
def test_met(text: str, actual: float | None, expected: bool | None) -> None:
    assert met(parse_target(text), actual) is expected


@pytest.mark.parametrize(("text", "actual", "expected"), [
    ("≥98%", 98.0, 1.0), ("≥98%", 49.0, 0.5), ("≥20次", 25.0, 1.25), ("≤30天", 20.0, 1.0), ("≤30天", 60.0, 0.5),
    ("≤0次", 2.0, 0.0), ("20元/户", 25.0, 0.8), ("≥95%", -5.0, 0.0), ("全覆盖", 100.0, None), ("≥95%", None, None),
])
def test_attainment(text: str, actual: float | None, expected: float | None) -> None:
    result = attainment(parse_target(text), actual)
    assert result is None if expected is None else result == pytest.approx(expected)


def test_describe_renders_the_parsed_value() -> None:
    assert parse_target("≧90％").describe() == "≥90%"
    assert parse_target("0").describe() == "≤0"
    assert parse_target("全面提升").describe() == "全面提升"
    assert isinstance(parse_target("1个"), Target)
