"""Indicator API for the dashboard: values with target and status, monthly series, drill-down."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from server.deps import CurrentUser, DbSession, Now
from server.errors import NotFound
from server.indicators import card, drilldown, service
from server.indicators.periods import TZ, parse_period, parse_scope
from server.indicators.schemas import Drilldown, GridCard, IndicatorAreas, IndicatorValueRead

router = APIRouter(prefix="/indicators", tags=["indicators"])
grid_card_router = APIRouter(prefix="/grids", tags=["grids"])  # reads every domain: it lives with indicators
ScopeQ = Annotated[str, Query(description="district:440112, street:440112001, community:…, grid:…")]
PeriodQ = Annotated[str, Query(description="2026, 2026-Q3, 2026-11, 2026-W47, 2026-01-01..2026-03-31")]


def _args(db_session, user, scope: str, period: str, now):  # type: ignore[no-untyped-def]
    sc, pe = parse_scope(scope), parse_period(period)
    service.check_scope(db_session=db_session, user=user, scope=sc, now=now)
    return sc, pe


@router.get("", response_model=list[IndicatorValueRead])
def values(db_session: DbSession, user: CurrentUser, now: Now, scope: ScopeQ, period: PeriodQ) -> list[dict[str, Any]]:
    sc, pe = _args(db_session, user, scope, period, now)
    return [asdict(v) for v in service.compute_all(db_session=db_session, scope=sc, period=pe, now=now)]


@router.get("/areas", response_model=IndicatorAreas)
def areas(db_session: DbSession, user: CurrentUser, now: Now, scope: ScopeQ, period: PeriodQ,
          level: Annotated[str, Query(description="street | community | grid: the areas listed inside the scope")],
          indicator: Annotated[list[str] | None, Query(description="only these codes (repeatable)")] = None,
          ) -> dict[str, Any]:
    """The scope and every area of a level inside it, all indicators: the board's table, from one
    grouped statement per table for the event, visit and dispute indicators."""
    sc, pe = _args(db_session, user, scope, period, now)
    rows = [sc, *service.scopes_below(db_session, sc, level, pe)]
    codes = indicator or list(service.COMPUTABLE)
    values = service.compute_many(db_session=db_session, scopes=rows, codes=codes, period=pe, now=now)
    return {"scope": str(sc), "period": pe.label, "level": level, "indicators": codes,
            "rows": [{"scope": str(r), "values": [asdict(values[r, c]) for c in codes]} for r in rows]}


@router.get("/{code}", response_model=IndicatorValueRead)
def value(db_session: DbSession, user: CurrentUser, now: Now, code: str, scope: ScopeQ, period: PeriodQ) -> dict[str, Any]:
    sc, pe = _args(db_session, user, scope, period, now)
    return asdict(service.compute(db_session=db_session, code=code, scope=sc, period=pe, now=now))


@router.get("/{code}/series", response_model=list[IndicatorValueRead])
def series(db_session: DbSession, user: CurrentUser, now: Now, code: str, scope: ScopeQ,
           period: PeriodQ) -> list[dict[str, Any]]:
    sc, pe = _args(db_session, user, scope, period, now)
    return [asdict(v) for v in service.series(db_session=db_session, code=code, scope=sc, period=pe, now=now)]


@router.get("/{code}/drilldown", response_model=Drilldown)
def drill(db_session: DbSession, user: CurrentUser, now: Now, code: str, scope: ScopeQ, period: PeriodQ,
          limit: Annotated[int, Query(ge=1, le=10000)] = 500) -> dict[str, Any]:
    """The records behind the value: what was not closed, late, dissatisfied, or below target."""
    sc, pe = _args(db_session, user, scope, period, now)
    if code not in drilldown.REGISTRY:
        raise NotFound(f"no drill-down for {code}", f"指标 {code} 无明细", code="no_drilldown")
    rows = drilldown.REGISTRY[code](db_session, sc, pe, now, limit)
    return {"code": code, "scope": str(sc), "period": pe.label, "rows": rows, "count": len(rows)}


@grid_card_router.get("/{code}/card", response_model=GridCard)
def grid_card(db_session: DbSession, user: CurrentUser, now: Now, code: str,
              period: Annotated[str | None, Query(max_length=32, description="the indicators' period: 2026-11, "
                                                  "2026-Q4, 2026 …; default this month (Asia/Shanghai)")] = None
              ) -> GridCard:
    """The map's card for one grid in one request: the grid and its community and street, the workers
    assigned now, open / warned / overdue events, devices by status, and the indicators the catalogue
    defines for grids with their targets. A grid outside your territory is 404, as GET /grids/{code}."""
    pe = parse_period(period or f"{now.astimezone(TZ):%Y-%m}")
    return card.grid_card(db_session=db_session, user=user, code=code, period=pe, now=now)
