"""Declaration in, self-evaluation and quarterly monitoring out: actual values with drafted reasons.

Each declaration row mapped to a computable indicator gets its value for the scope and the
year (or quarter), the records behind it when the target is missed, and a drafted deviation
reason (偏差原因) for the user to edit. Rows that cannot be computed are left to the metrics
library, which keeps their original text and marks them for manual input.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from metrics.catalogue import get_indicator, units_compatible
from metrics.declaration import Declaration
from metrics.numbers import count, number, plain
from metrics.self_evaluation import ActualValue
from metrics.targets import met
from server.indicators import drilldown, service
from server.indicators.periods import Period, Scope, parse_period


def _declared_target(declaration: Declaration, code: str) -> float | None:
    """The row's own target when it is a number in the indicator's unit (the annual column may hold
    a formula and the number only the implementation-period column: scored_target knows)."""
    unit = get_indicator(code).unit
    for row in declaration.rows:
        target = row.scored_target
        if row.indicator_code == code and target is not None and target.kind == "numeric" \
                and units_compatible(target.unit, unit):
            return target.value
    return None


def draft_reason(value: service.IndicatorValue, rows: list[dict[str, Any]]) -> str | None:
    """One sentence a person can start from: how much was missed and where it concentrates."""
    if value.status != "not_met":
        return None
    missed = value.denominator - value.numerator
    sign = {">=": "≥", "<=": "≤"}.get(value.direction, value.direction)
    head = f"{value.name_zh}{number(value.value, value.unit)}，未达到目标{sign}{plain(value.target, value.unit)}"
    if rows and "设备编码" in rows[0]:
        hours = sum(r["离线小时"] for r in rows)
        worst = "、".join(f"{r['设备编码']}({number(r['在线率'], '%')})" for r in rows[:3])
        return (f"{head}：{count(len(rows))}台设备存在离线，累计离线{number(float(hours), '小时')}，"
                f"在线率最低的为{worst}。")
    if rows and "事件编号" in rows[0]:
        where = Counter(r["网格"] for r in rows).most_common(3)
        spots = "、".join(f"{g}({count(n)}件)" for g, n in where)
        return (f"{head}：{count(round(missed))}件未按要求办结（共{count(round(value.denominator))}件），"
                f"主要集中在网格{spots}。")
    if rows and "网格员" in rows[0]:
        names = "、".join(f"{r['姓名']}({number(r['月均'], value.unit)})" for r in rows[:3])
        return f"{head}：{count(len(rows))}名网格员月均低于{plain(rows[0]['目标'], value.unit)}，如{names}。"
    return f"{head}。"


def _codes(declaration: Declaration) -> list[str]:
    return [c for c in dict.fromkeys(r.indicator_code for r in declaration.rows) if c in service.COMPUTABLE]


def actual_values(*, db_session: Session, declaration: Declaration, scope: Scope, period: Period, now: datetime,
                  drill_limit: int = 500) -> dict[str, ActualValue]:
    codes = _codes(declaration)
    values = service.compute_many(db_session=db_session, scopes=[scope], codes=codes, period=period, now=now,
                                  targets={c: _declared_target(declaration, c) for c in codes})
    out: dict[str, ActualValue] = {}
    for code in codes:
        v = values[scope, code]
        missed = v.status == "not_met" or _any_row_missed(declaration, code, v.value)
        records = _records(code)
        rows = records(db_session, scope, period, now, drill_limit) if missed and records else []
        out[code] = ActualValue(value=v.value, unit=v.unit, deviation_reason=draft_reason(v, rows), drilldown=rows)
    return out


def _any_row_missed(declaration: Declaration, code: str, value: float | None) -> bool:
    """Whether any row of this indicator misses its own target: the drill-down is decided per row, since
    two rows (or a variant's scale) may declare different targets for one code."""
    return any(met(r.scored_target, value) is False for r in declaration.rows if r.indicator_code == code)


def _records(code: str):  # type: ignore[no-untyped-def]
    """The drill-down of a code, or of the indicator it is a variant of (the 60-point quality score)."""
    return drilldown.REGISTRY.get(code) or drilldown.REGISTRY.get(get_indicator(code).variant_of or "")


def quarterly_progress(*, db_session: Session, declaration: Declaration, scope: Scope, year: int,
                       now: datetime) -> dict[str, list[float | None]]:
    """Q1..Q4 values per computable code; quarters not yet started are None (not zero)."""
    codes = _codes(declaration)
    progress: dict[str, list[float | None]] = {code: [] for code in codes}
    for q in range(1, 5):
        period = parse_period(f"{year}-Q{q}")
        values = {} if period.start > now else service.compute_many(
            db_session=db_session, scopes=[scope], codes=codes, period=period, now=now)
        for code in codes:
            progress[code].append(values[scope, code].value if values else None)
    return progress
