"""Target text (指标值) → a comparable value, keeping the original text and never inventing a number.

Declarations write the same target many ways: "≥95%", "≧90%", "95%以上", "不低于95％", "达到95%",
"100%", "1个", "≤30天", "0", and sentences such as "网格事件办结率达98%以上". Two modes:

* **expression**: the whole text is a target ("≥95%", "90%以上", "20元/户"). A bare value means
  "at least" (a declared count or rate is a floor), except 0, which means "none allowed" (≤ 0),
  and a per-unit price ("20元/户"), which is exact.
* **sentence**: exactly one number with a unit in running text, taken with the qualifier next to
  it ("不少于4件" → ≥ 4 件, "在10秒内" → ≤ 10 秒); parenthesised asides ("(总分30分)") are ignored.
  A sentence with a formula ("=", "/", "*"), a range ("1-2场"), two numbers or several
  requirements separated by ";" stays text: it is for a person to judge.
  `Target.from_sentence` says the number came from prose, so the tables can ask for a check.

Everything else ("按实际报送", "全面提升", "是", "全覆盖") is kind="text", value None.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from metrics.numbers import plain

AT_LEAST = (">=", "≥", "≧", "⩾", "不低于", "不少于", "不小于", "不得少于", "不得低于", "至少", "达到", "达",
            "高于", "大于", ">")
AT_MOST = ("<=", "≤", "≦", "⩽", "不高于", "不超过", "不大于", "不得超过", "不得高于", "最多", "低于", "小于", "<")
EXACT = ("=",)
AFTER_AT_LEAST = ("及以上", "或以上", "以上")
AFTER_AT_MOST = ("及以下", "或以下", "以下", "以内", "之内", "内")

# Longest first so "人次" wins over "人" and "个工作日" over "个". No 年/月/周 of their own: "2020年"
# and "每周" are dates and periods, not targets.
UNITS = ("个工作日", "工作日", "个月", "小时", "分钟", "人次", "万元", "%", "‰", "个", "次", "起", "人", "件", "条",
         "篇", "场", "张", "分", "天", "日", "秒", "户", "份", "元", "家", "期", "名", "套", "台", "路", "处", "所",
         "项", "批", "册", "宗", "部", "辆")
_WAN = "万"  # 5万份 = 50000 份; 万元 stays a unit of money

_NUM = r"\d+(?:\.\d+)?"
_UNIT_RE = "(?:" + "|".join(re.escape(u) for u in UNITS) + ")(?:/[户人月周年日次件])?"  # "20元/户", "4件/月"
_QUALIFIERS = sorted(AT_LEAST + AT_MOST + EXACT, key=len, reverse=True)  # longest first: "不少于" before "少于"
_PRE_RE = "|".join(re.escape(w) for w in (*_QUALIFIERS, "在"))
_POST_RE = "|".join(re.escape(w) for w in AFTER_AT_LEAST + AFTER_AT_MOST)
_EXPRESSION = re.compile(
    rf"^(?P<pre>{_PRE_RE})?(?P<num>{_NUM})(?P<wan>{_WAN})?(?P<unit>{_UNIT_RE})?(?P<post>{_POST_RE})?$")
_IN_SENTENCE = re.compile(rf"(?P<num>{_NUM})(?P<wan>{_WAN})?(?P<unit>{_UNIT_RE})(?P<post>{_POST_RE})?")
_PARENTHESISED = re.compile(r"\([^()]*\)")
_FORMULA = re.compile(r"[=*×÷/]")
_CLAUSES = re.compile(r"[;；]")  # "…5次;…每月一期": several requirements in one cell
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


@dataclass(frozen=True)
class Target:
    """A parsed 指标值: `original` is what the declaration says and is what every table prints."""

    original: str
    kind: str  # "numeric" | "text"
    direction: str | None  # ">=" | "<=" | "==" | None
    value: float | None
    unit: str | None
    from_sentence: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.kind == "numeric"

    def describe(self) -> str:
        """A normalised rendering ("≥95%") for notes; the tables print `original`."""
        if not self.is_numeric:
            return self.original
        sign = {">=": "≥", "<=": "≤", "==": "="}.get(self.direction or "", "")
        return f"{sign}{plain(self.value, self.unit)}"


def normalise(text: str) -> str:
    """NFKC (full-width digits and ％ become ASCII), no whitespace, no thousands separators."""
    folded = unicodedata.normalize("NFKC", text or "")
    return _THOUSANDS.sub("", re.sub(r"\s+", "", folded))


def _direction(pre: str | None, post: str | None, value: float, unit: str | None) -> str:
    if post in AFTER_AT_MOST or pre in AT_MOST:
        return "<="
    if post in AFTER_AT_LEAST or pre in AT_LEAST:
        return ">="
    if pre in EXACT or (unit is not None and unit.startswith(("元/", "万元/"))):  # a unit price is exact
        return "=="
    return "<=" if value == 0 else ">="


def _numeric(original: str, match: re.Match[str], *, pre: str | None, from_sentence: bool) -> Target:
    value = float(match["num"])
    unit = match["unit"]
    if match["wan"] and unit is not None and unit.startswith("元"):
        unit = "万" + unit
    elif match["wan"]:
        value *= 10_000
    direction = _direction(pre, match["post"], value, unit)
    return Target(original, "numeric", direction, value, unit, from_sentence)


def _text(original: str) -> Target:
    return Target(original, "text", None, None, None)


def _from_sentence(original: str, text: str) -> Target:
    """One number with a unit and no formula or range: take it with the words right around it."""
    body = _PARENTHESISED.sub("", text)
    if _FORMULA.search(body) or _CLAUSES.search(body) or len(re.findall(_NUM, body)) != 1:
        return _text(original)
    match = _IN_SENTENCE.search(body)
    if match is None:
        return _text(original)
    before = body[: match.start()]
    pre = next((w for w in _QUALIFIERS if before.endswith(w)), None)
    return _numeric(original, match, pre=pre, from_sentence=True)


def parse_target(text: str) -> Target:
    """Parse one 指标值; unparseable or qualitative text comes back as kind="text", never as a guess."""
    original = "" if text is None else str(text)
    cleaned = normalise(original).rstrip("。.;；,，")
    if not cleaned:
        return _text(original)
    match = _EXPRESSION.match(cleaned)
    if match is not None:
        return _numeric(original, match, pre=match["pre"], from_sentence=False)
    return _from_sentence(original, cleaned)


def met(target: Target, actual: float | None) -> bool | None:
    """Whether an actual value reaches the target; None when that cannot be said (text target, no data)."""
    if not target.is_numeric or target.value is None or actual is None or math.isnan(actual):
        return None
    tolerance = 1e-9 * max(1.0, abs(target.value))
    if target.direction == "<=":
        return actual <= target.value + tolerance
    if target.direction == "==":
        return abs(actual - target.value) <= tolerance
    return actual >= target.value - tolerance


def attainment(target: Target, actual: float | None) -> float | None:
    """How far the actual value goes towards the target, as a fraction (1.0 = exactly there).

    ≥: actual / target; ≤: target / actual (1.0 when within it; 0 when the target is 0 and it
    is exceeded); =: the smaller over the larger. Not capped: monitoring shows 104 %, scoring caps.
    """
    if met(target, actual) is None:
        return None
    value, got = float(target.value), float(actual)  # type: ignore[arg-type]
    if target.direction == "<=":
        if got <= value:
            return 1.0
        return 0.0 if value <= 0 else value / got
    if target.direction == "==":
        high = max(abs(value), abs(got))
        return 1.0 if high == 0 else min(abs(value), abs(got)) / high
    if value <= 0:
        return 1.0 if got >= value else 0.0
    return max(got, 0.0) / value
