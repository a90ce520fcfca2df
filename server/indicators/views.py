"""Indicator API for the dashboard: values with target and status, monthly series, drill-down."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.deps import CurrentUser, DbSession, Now, ReadDbSession, require_roles
from server.errors import NotFound
from server.indicators import card, drilldown, service, tables
from server.indicators.periods import TZ, Scope, parse_period, parse_scope
from server.indicators.schemas import Drilldown, GridCard, IndicatorAreas, IndicatorValueRead
from server.inputs import Line
from server.openapi import UPLOAD_RESPONSES, file_response

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
    computed = service.compute_many_cached(db_session=db_session, scopes=[sc], codes=service.COMPUTABLE, period=pe,
                                           now=now)
    return [asdict(v) for v in computed.values()]


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
    values = service.compute_many_cached(db_session=db_session, scopes=rows, codes=codes, period=pe, now=now)
    return {"scope": str(sc), "period": pe.label, "level": level, "indicators": codes,
            "rows": [{"scope": str(r), "values": [asdict(values[r, c]) for c in codes]} for r in rows]}


# The tables for the budget office: every role with a whole district or street (the auditor too: making
# a table writes nothing); a grid worker has none.
TableMaker = Annotated[User, Depends(require_roles(Role.district_admin, Role.command_center, Role.street_admin,
                                                   Role.auditor))]
DeclarationFile = Annotated[UploadFile, File(description="绩效目标申报表 (.xlsx): the declaration, as for the CLI")]
Year = Annotated[int, Form(ge=2000, le=2099, description="the budget year")]
Amount = Annotated[float | None, Form(ge=0, le=1e9, description="万元")]
TableScope = Annotated[Line | None, Form(max_length=40, description="district:440112, street:440112001 …; "
                                                                    "default your whole district or street")]
Sheet = Annotated[Line | None, Form(max_length=64, description="the declaration's sheet (default: the first "
                                                              "with an indicator table)")]
UnitName = Annotated[Line, Form(max_length=128, description="填报单位, printed under the title")]
TABLE_RESPONSES: dict[int | str, Any] = {**UPLOAD_RESPONSES, **file_response("the workbook", tables.XLSX)}


def _table_scope(db_session: Session, user: User, scope: str | None, now: datetime) -> Scope:
    sc = parse_scope(scope) if scope else tables.own_scope(user, now)
    service.check_scope(db_session=db_session, user=user, scope=sc, now=now)
    return sc


def _xlsx(path: Path, filename: str) -> Response:
    return Response(path.read_bytes(), media_type=tables.XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/self-evaluation", response_class=Response, responses=TABLE_RESPONSES)
def self_evaluation(db_session: ReadDbSession, user: TableMaker, now: Now, declaration: DeclarationFile, year: Year,
                    budget: Amount = None, executed: Amount = None, scope: TableScope = None, sheet: Sheet = None,
                    unit_name: UnitName = "") -> Response:
    """The 绩效自评表 for `year` from an uploaded declaration, as `gridops metrics self-eval` writes it:
    rows the data proves are computed for the scope (with drafted deviation reasons and 明细 sheets),
    the others kept for manual input. A file that is no .xlsx or holds no indicator table is a 422."""
    sc = _table_scope(db_session, user, scope, now)
    parsed = tables.read_upload(declaration.file.read(), declaration.filename or "", sheet=sheet)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "table.xlsx"
        tables.self_evaluation(db_session=db_session, declaration=parsed, scope=sc, year=year, out=out, now=now,
                               budget=tables.budget_of(budget, executed), unit_name=unit_name)
        return _xlsx(out, f"self-evaluation-{year}.xlsx")


@router.post("/monitoring", response_class=Response, responses=TABLE_RESPONSES)
def monitoring(db_session: ReadDbSession, user: TableMaker, now: Now, declaration: DeclarationFile, year: Year,
               quarter: Annotated[int, Form(ge=1, le=4, description="up to this quarter")] = 4,
               budget: Amount = None, executed: Amount = None, scope: TableScope = None, sheet: Sheet = None,
               unit_name: UnitName = "") -> Response:
    """The 绩效运行监控表 for `year` up to `quarter` from an uploaded declaration, as `gridops metrics
    monitoring` writes it (quarters not yet begun stay empty). Errors as for /self-evaluation."""
    sc = _table_scope(db_session, user, scope, now)
    parsed = tables.read_upload(declaration.file.read(), declaration.filename or "", sheet=sheet)
    with tempfile.TemporaryDirectory() as tmp:
        out = tables.monitoring(db_session=db_session, declaration=parsed, scope=sc, year=year, quarter=quarter,
                                out=Path(tmp) / "table.xlsx", now=now, budget=tables.budget_of(budget, executed),
                                unit_name=unit_name)
        return _xlsx(out, f"monitoring-{year}-Q{quarter}.xlsx")


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
