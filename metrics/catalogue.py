"""The indicator catalogue as data: what each budget indicator means, how it is judged, what it is called.

One entry per indicator the platform can prove from its own records. The aliases are the
phrasings the four seed declarations (绩效目标申报表) use for the same thing, so that a declaration
row maps to a code without anyone typing it; `metrics.declaration` does the matching and keeps
a reviewable mapping file for the rows it cannot place.

Conventions used everywhere in `metrics`:
* rates are in percent (0–100), never fractions: "≥95%" is compared with 96.2, not 0.962;
* `direction` is how the actual value must relate to the target (">=" higher is better);
* `upper_bound` is the largest value the indicator can take (100 for a rate, the full marks of
  a score); a declared target above it means the row was mapped to the wrong variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

SCOPE_ALL = ("grid", "community", "street", "district")
SCOPE_STREET_UP = ("street", "district")
SCOPE_DISTRICT = ("district",)


@dataclass(frozen=True)
class Indicator:
    """One catalogue indicator; `formula_zh` is printed in the tables, so it is written for the budget office."""

    code: str
    name_zh: str
    level1: str  # 产出 / 效益 / 满意度
    level2: str  # 数量 / 质量 / 时效 / 成本 / 社会效益 / 可持续影响 / 服务对象满意度
    unit: str
    direction: str  # ">=" or "<="
    default_target: float | None
    formula_zh: str
    scope_levels: tuple[str, ...]
    aliases: tuple[str, ...]
    upper_bound: float | None = None
    variant_of: str | None = None  # a variant loses a tie against the indicator it varies


class UnknownIndicator(KeyError):
    """A code that is not in the catalogue (a typo in a mapping file, or a retired code)."""

    def __init__(self, code: str) -> None:
        self.message_en = f"unknown indicator code {code!r}; known: {', '.join(sorted(CATALOGUE))}"
        self.message_zh = f"未知的指标编码 {code!r}"
        super().__init__(f"{self.message_zh} / {self.message_en}")


def _rate(code: str, name_zh: str, level2: str, target: float, formula_zh: str, aliases: tuple[str, ...],
          *, level1: str = "产出", scope: tuple[str, ...] = SCOPE_ALL) -> Indicator:
    """Most indicators are percentages with ≥ targets; this keeps their entries to the facts that differ."""
    return Indicator(code=code, name_zh=name_zh, level1=level1, level2=level2, unit="%", direction=">=",
                     default_target=target, formula_zh=formula_zh, scope_levels=scope, aliases=aliases,
                     upper_bound=100.0)


_QUALITY_ALIASES = ("事件质量评分", "网格事件质量", "上报网格事件质量", "上报事件质量", "事件质量考评")

_ENTRIES: tuple[Indicator, ...] = (
    _rate("online_rate", "视频监控点位设备在线率", "时效", 95.0,
          "Σ点位在线时长 / Σ点位应在线时长 × 100%（扣除计划维护，未上报视为离线）",
          ("视频监控点位设备在线率", "设备在线率", "视频监控设备在线率", "监控点位在线率", "点位在线率",
           "雪亮工程设备在线率")),
    _rate("link_online_rate", "政法网链路在线率", "质量", 100.0,
          "Σ链路在线时长 / Σ链路应在线时长 × 100%",
          ("政法网链路在线率", "链路在线率", "政法四级网链路正常使用", "政法网链路正常使用", "链路正常使用"),
          scope=SCOPE_DISTRICT),
    _rate("terminal_online_rate", "视联网（会议系统）终端在线率", "质量", 100.0,
          "Σ终端在线时长 / Σ终端应在线时长 × 100%",
          ("会议系统终端在线率", "视联网终端在线率", "终端在线率", "视频在线率", "视联网设备在线率",
           "保证综治视联网设备链路正常"), scope=SCOPE_STREET_UP),
    _rate("closure_rate", "网格事件办结率", "数量", 98.0, "办结数 / 上报数 × 100%",
          ("网格事件办结率", "事件办结率", "办结率")),
    _rate("on_time_closure_rate", "网格事件正常办结率", "质量", 90.0, "正常办结数 / 上报数 × 100%（时限内办结为正常办结）",
          ("网格事件正常办结率", "事件正常办结率", "正常办结率", "网格事件流转时限", "事件流转时限")),
    Indicator("quality_score", "事件质量评分（30分制）", "产出", "质量", "分", ">=", 25.0,
              "以街镇为单位，月度事件质量平均分（满分30分）；多月取各月平均", SCOPE_STREET_UP,
              _QUALITY_ALIASES, upper_bound=30.0),
    Indicator("quality_score_60", "事件质量评分（60分制）", "产出", "质量", "分", ">=", 55.0,
              "以街镇为单位，月度事件质量平均分（满分60分）；全年为全年总分 / 12个月", SCOPE_STREET_UP,
              _QUALITY_ALIASES, upper_bound=60.0, variant_of="quality_score"),
    Indicator("reports_per_worker_month", "专职网格员人均月上报事件数", "产出", "数量", "件", ">=", 4.0,
              "以街镇为单位，上报事件数 / (专职网格员数 × 月数)", SCOPE_STREET_UP,
              ("人均月上报量", "人均网格事件月度上报量", "上报网格事件数量", "网格事件上报数量")),
    Indicator("visits_per_worker_month", "专职网格员人均月巡查走访次数", "产出", "数量", "次", ">=", 20.0,
              "以街镇为单位，有效巡查走访次数 / (专职网格员数 × 月数)；有效 = 不少于10分钟且80%轨迹在所属网格内",
              SCOPE_STREET_UP, ("巡查走访", "日常巡查情况", "日常巡查", "网格巡查走访", "人均月巡查走访次数")),
    _rate("rental_managed_rate", "出租屋纳管率", "数量", 98.0, "已纳管出租屋数 / 出租屋总数 × 100%",
          ("出租屋纳管率", "出租屋登记纳管率")),
    _rate("tenant_registration_rate", "来穗人员居住信息登记率", "数量", 95.0,
          "已登记来穗人员数 / 应登记来穗人员数 × 100%",
          ("来穗人员登记率", "来穗人员居住信息登记率", "已安装门禁系统的出租屋内来穗人员登记率",
           "流动人口登记率", "登记率")),
    _rate("tenant_deregistration_rate", "来穗人员居住信息注销率", "数量", 95.0,
          "已注销来穗人员数 / 应注销（已搬离）来穗人员数 × 100%",
          ("来穗人员注销率", "来穗人员居住信息注销率", "已安装门禁系统的出租屋内来穗人员注销率",
           "流动人口注销率", "注销率")),
    _rate("mediation_success_rate", "人民调解成功率", "质量", 90.0, "调解成功案件数 / 调解案件总数 × 100%",
          ("人民调解成功率", "调解成功率", "案件调解成功率", "案件调解率", "矛盾纠纷调解成功率")),
    _rate("dispute_reply_within_30_days_rate", "矛盾纠纷30日内答复率", "时效", 100.0,
          "受理后30日内答复的纠纷数 / 受理纠纷数 × 100%",
          ("调解案件回复时限", "调解案件结案效率", "矛盾纠纷答复时限", "30日内答复率")),
    _rate("satisfaction", "服务对象满意度", "服务对象满意度", 90.0,
          "（一般 + 满意 + 非常满意）/ 评价数量 × 100%",
          ("满意度", "服务对象满意度", "群众满意度", "满意率", "满意程度", "公众满意率", "社区治理满意度",
           "使用对象满意度", "满意度调查"), level1="满意度"),
    _rate("app_usage_rate", "综治信息系统手机APP使用率", "质量", 100.0,
          "当月用手机APP同步过的网格员数 / 当月在岗网格员数 × 100%（多月为各月人数之和相除）",
          ("综治信息系统手机APP使用率", "信息系统手机APP使用率", "手机APP使用率", "APP使用率", "网格员APP使用率"),
          scope=SCOPE_STREET_UP),
    Indicator("trainings_held", "网格员业务培训场次", "产出", "数量", "场", ">=", 2.0,
              "统计期内举办的网格员业务培训会场次", SCOPE_DISTRICT,
              ("举办网格员培训班", "网格员培训班", "网格员业务培训", "培训场次", "培训次数", "开展培训")),
    Indicator("weekly_reports_produced", "社会治安形势情况周报期数", "产出", "数量", "期", ">=", None,
              "统计期内每周五编制的情况周报期数（应等于统计期内的周数）", SCOPE_DISTRICT,
              ("编制情况周报", "情况周报", "社会治安形势周报", "周报编制")),
)

CATALOGUE: MappingProxyType[str, Indicator] = MappingProxyType({i.code: i for i in _ENTRIES})


def get_indicator(code: str) -> Indicator:
    """The catalogue entry for a code; raises UnknownIndicator (a KeyError) naming the known codes."""
    try:
        return CATALOGUE[code]
    except KeyError:
        raise UnknownIndicator(code) from None


UNIT_CLASSES: dict[str, str] = {
    "%": "percent", "‰": "permille", "分": "score",
    "天": "time", "日": "time", "工作日": "time", "个工作日": "time", "个月": "time", "小时": "time", "分钟": "time",
    "秒": "time",
    "元": "money", "万元": "money", "元/户": "money",
}


def unit_class(unit: str | None) -> str | None:
    """Percent, score, time, money or count: units of one class can be compared, others cannot."""
    if unit is None:
        return None
    return UNIT_CLASSES.get(unit, "count")


def units_compatible(a: str | None, b: str | None) -> bool:
    """A missing unit ("≥90") is taken as the indicator's own; otherwise the classes must agree."""
    return a is None or b is None or unit_class(a) == unit_class(b)
