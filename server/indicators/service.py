"""Indicator values for a scope and period: the registry from catalogue codes to computations.

The catalogue (names, units, directions, default targets, formula text) lives in the metrics
library; this module only knows how each code is computed from the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from metrics.catalogue import get_indicator
from server.database.prefix import prefix_range
from server.auth.models import User
from server.config import get_settings
from server.divisions.models import Community, Street
from server.errors import Forbidden, InvalidInput, NotFound
from server.grids.models import Grid
from devices.codes import DeviceKind
from server.indicators import device_queries, keyperson_queries
from server.indicators import event_queries as q
from server.indicators import app_queries, cache, rental_queries, report_queries
from server.indicators.periods import TZ, Period, Scope, parse_period, parse_scope  # noqa: F401  (the assessment's too)
from server.indicators.quality import Rule as QualityRule
from server.indicators.quality import load_rule as _load_quality_rule
from server.indicators.quality import score_expression as quality_score_expression  # noqa: F401  (assessment)
from server.indicators.results import Ratio
from server.territory import territory

Many = Callable[[Session, Sequence[Scope], Period, datetime], dict[Scope, Ratio]]

# The event, visit and dispute indicators (event_queries.INDICATORS) are computed for many scopes
# at once from grouped aggregates; the device online rates load the devices once for all scopes, the
# rental rates their per-grid counts once, trainings and weekly reports one grouped count: every
# indicator costs a fixed number of statements, whatever the number of scopes (a map of every grid).
MANY: dict[str, Many] = {
    "online_rate": lambda s, scs, p, now: device_queries.availability(s, scs, p, now, DeviceKind.camera),
    "link_online_rate": lambda s, scs, p, now: device_queries.availability(s, scs, p, now, DeviceKind.link),
    "terminal_online_rate": lambda s, scs, p, now: device_queries.availability(s, scs, p, now, DeviceKind.terminal),
    **{code: partial(rental_queries.rates, which=code) for code in rental_queries.CODES},
    "trainings_held": lambda s, scs, p, now: report_queries.trainings_held(s, scs, p),
    "weekly_reports_produced": lambda s, scs, p, now: report_queries.weekly_reports_produced(s, scs, p),
    "app_usage_rate": app_queries.app_usage_rates,
    **{code: partial(keyperson_queries.rates, which=code) for code in keyperson_queries.CODES},
}
COMPUTABLE: tuple[str, ...] = (*q.INDICATORS, *MANY)


def quality_rule() -> QualityRule:
    """The event quality rule in force (GRIDOPS_QUALITY_RULE): the worker assessment scores with it too."""
    return _load_quality_rule(get_settings().quality_rule)


@dataclass(frozen=True)
class IndicatorValue:
    code: str
    name_zh: str
    unit: str
    direction: str
    target: float | None
    value: float | None
    numerator: float
    denominator: float
    status: str  # met | not_met | no_data
    scope: str
    period: str


def _status(value: float | None, target: float | None, direction: str) -> str:
    if value is None:
        return "no_data"
    if target is None:
        return "met"
    return "met" if (value >= target if direction == ">=" else value <= target) else "not_met"


def check_scope(*, db_session: Session, user: User, scope: Scope, now: datetime) -> None:
    """Indicators of an area only for those whose territory holds the whole area: a grid worker
    those of the grids assigned to them, nothing wider."""
    t = territory(user, now)
    if t.worker_id is not None and scope.level == "grid":
        allowed = db_session.scalar(select(Grid.id).where(Grid.code == scope.code, t.grids(Grid.id))) is not None
    else:
        allowed = t.covers(scope.prefix)
    if not allowed:
        raise Forbidden(f"scope {scope} is outside your area", f"统计范围 {scope} 超出您的管辖范围",
                        code="scope_forbidden")


def compute_many(*, db_session: Session, scopes: Sequence[Scope], codes: Sequence[str], period: Period,
                 now: datetime, targets: Mapping[str, float | None] | None = None, rollup: bool = True
                 ) -> dict[tuple[Scope, str], IndicatorValue]:
    """Every (scope, code): a board or a table for a district, its streets and communities costs
    one grouped statement per table for the event, visit and dispute indicators and one load of
    the devices per online rate, whatever the number of scopes. `rollup` False reads every event
    one by one, ignoring event_rollup (what `gridops metrics check-rollup` compares with)."""
    for code in codes:
        if code not in COMPUTABLE:
            raise NotFound(f"indicator {code} is not computed from data", f"指标 {code} 无法由数据计算",
                           code="indicator_not_computable", detail={"computable": sorted(COMPUTABLE)})
    ratios = q.ratios(db_session, scopes, [c for c in codes if c in q.INDICATORS], period, now, rollup=rollup)
    for code in codes:
        if code in MANY:
            ratios.update(((sc, code), r) for sc, r in MANY[code](db_session, scopes, period, now).items())
    out: dict[tuple[Scope, str], IndicatorValue] = {}
    for scope in scopes:
        for code in codes:
            ratio = ratios[scope, code]
            meta = get_indicator(code)
            target = (targets or {}).get(code)
            goal = meta.default_target if target is None else target
            out[scope, code] = IndicatorValue(
                code=code, name_zh=meta.name_zh, unit=meta.unit, direction=meta.direction, target=goal,
                value=ratio.value, numerator=ratio.numerator, denominator=ratio.denominator,
                status=_status(ratio.value, goal, meta.direction), scope=str(scope), period=period.label)
    return out


def compute_many_cached(*, db_session: Session, scopes: Sequence[Scope], codes: Sequence[str], period: Period,
                        now: datetime) -> dict[tuple[Scope, str], IndicatorValue]:
    """compute_many through the process's short-lived cache (server.indicators.cache says what may be
    kept and for how long). The caller has checked the user's right to every scope first."""
    lifetime = cache.ttl(period, now, get_settings().indicator_cache_s)
    return cache.VALUES.get_or_compute((tuple(scopes), tuple(codes), period), now, lifetime, lambda: compute_many(
        db_session=db_session, scopes=scopes, codes=codes, period=period, now=now))


def compute(*, db_session: Session, code: str, scope: Scope, period: Period, now: datetime,
            target: float | None = None) -> IndicatorValue:
    return compute_many(db_session=db_session, scopes=[scope], codes=[code], period=period, now=now,
                        targets={code: target})[scope, code]


def compute_all(*, db_session: Session, scope: Scope, period: Period, now: datetime) -> list[IndicatorValue]:
    return list(compute_many(db_session=db_session, scopes=[scope], codes=COMPUTABLE, period=period,
                             now=now).values())


LEVEL_ORDER = ("district", "street", "community", "grid")


def scopes_below(db_session: Session, scope: Scope, level: str, period: Period) -> list[Scope]:
    """The streets, communities or grids inside a scope (grids retired before the period left out),
    in code order: the rows of a breakdown table."""
    if level not in LEVEL_ORDER or LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(scope.level):
        raise InvalidInput(f"level {level!r} is not below {scope.level}", f"层级 {level!r} 不在 {scope.level} 之下",
                           code="bad_level", detail={"levels": list(LEVEL_ORDER[LEVEL_ORDER.index(scope.level) + 1:])})
    model = {"street": Street, "community": Community, "grid": Grid}[level]
    stmt = select(model.code).where(prefix_range(model.code, scope.prefix)).order_by(model.code)
    if model is Grid:
        stmt = stmt.where(or_(Grid.retired_at.is_(None), Grid.retired_at > period.start))
    return [Scope(level, code) for code in db_session.scalars(stmt)]


def series(*, db_session: Session, code: str, scope: Scope, period: Period, now: datetime) -> list[IndicatorValue]:
    """Month by month, for trend charts on the dashboard."""
    return [compute(db_session=db_session, code=code, scope=scope, period=m, now=now) for m in period.months()]
