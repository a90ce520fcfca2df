"""Assessment API: the month's scores with their records, manual items, sign-off, corrections, pay.

A grid worker reads their own row only; street admins their street; district roles the district.
The street admin enters manual items and signs first, the district admin signs second and corrects;
the auditor and the command center read and sign nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from server.assessment import service, sheets
from server.assessment.schemas import (
    AdjustmentCreate,
    AdjustmentRead,
    AssessmentRead,
    CorrectionCreate,
    ItemRead,
    PayCreate,
    PayRead,
    StreetPayRead,
    StreetStatus,
    WorkerPayRead,
    WorkerScoreRead,
)
from server.auth.enums import Role
from server.auth.models import User
from server.deps import CurrentUser, DbSession, Now, WriteDbSession, require_roles
from server.divisions.models import Street
from server.errors import Forbidden
from server.indicators.service import parse_scope
from server.inputs import Page, PageSize
from server.openapi import file_response
from server.territory import territory

router = APIRouter(prefix="/assessment", tags=["assessment"])
ScopeQ = Annotated[str, Query(description="district:440112, street:440112001; a grid worker: grid:… of their own")]
StreetQ = Annotated[str, Query(description="street:440112001: one street's month")]
Signer = Annotated[User, Depends(require_roles(Role.street_admin, Role.district_admin))]
Reader = Annotated[User, Depends(require_roles(Role.district_admin, Role.auditor, Role.command_center))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _read(s: service.WorkerScore) -> WorkerScoreRead:
    return WorkerScoreRead(username=s.username, full_name=s.full_name, street_code=s.street_code, coverage=s.coverage,
                           parts=s.parts, total=s.total, assessed=s.assessed, rank=s.rank, version=s.version,
                           items=[ItemRead(code=i.code, name_zh=i.name_zh, kind=i.kind, max_points=i.max_points,
                                           score=i.score, text=i.text, records=i.records,
                                           records_total=i.records_total) for i in s.items])


def _street_names(db_session: DbSession) -> dict[str, str]:
    return {code: name for code, name in db_session.execute(select(Street.code, Street.name))}


@router.get("/{month}", response_model=AssessmentRead)
def month_scores(db_session: DbSession, user: CurrentUser, month: str, scope: ScopeQ, now: Now,
                 page: Page = 1, page_size: PageSize = 100) -> AssessmentRead:
    """Every worker's score with each item, its points and the records behind it; ranks within the
    street and the street averages. A grid worker: their own row (scope one of their grids)."""
    period, area = service.parse_month(month), parse_scope(scope)
    rows = service.visible(db_session, user=user, month=period, scope=area, now=now)
    streets = sorted({r.street_code for r in rows})
    start = (page - 1) * page_size
    return AssessmentRead(
        month=period.label, scope=str(area), rule_version=service.rule().version,
        street_averages=service.street_averages(rows),
        streets=[StreetStatus(**service.status(db_session, period.label, s)) for s in streets],
        workers=[_read(r) for r in rows[start:start + page_size]], total=len(rows), page=page, page_size=page_size)


@router.get("/{month}/sheet.xlsx", response_class=Response,
            responses=file_response("考核表: one sheet per street with signature lines, then 明细", XLSX))
def month_sheet(db_session: DbSession, user: CurrentUser, month: str, scope: ScopeQ, now: Now) -> Response:
    period, area = service.parse_month(month), parse_scope(scope)
    rows = service.visible(db_session, user=user, month=period, scope=area, now=now)
    frozen = {s: service.status(db_session, period.label, s)["version"] for s in {r.street_code for r in rows}}
    content = sheets.assessment_workbook(rows, service.rule(), period.label, _street_names(db_session), frozen)
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="assessment-{period.label}.xlsx"'})


@router.post("/{month}/adjustments", response_model=AdjustmentRead, status_code=201)
def add_adjustment(db_session: WriteDbSession, user: Signer, month: str, body: AdjustmentCreate, now: Now
                   ) -> AdjustmentRead:
    """A manual item (e.g. a verified complaint, a commendation) with its reason; audited. Entered
    after the month is frozen, it counts from the next correction."""
    adj = service.add_adjustment(db_session, user=user, month=service.parse_month(month), username=body.username,
                                 item_code=body.item_code, reason=body.reason, now=now)
    db_session.commit()
    return AdjustmentRead(id=adj.id, month=adj.month, username=body.username, item_code=adj.item_code,
                          points=adj.points, reason=adj.reason, at=adj.at)


@router.post("/{month}/sign-off", response_model=StreetStatus)
def sign_off(db_session: WriteDbSession, user: Signer, month: str, scope: StreetQ, now: Now) -> StreetStatus:
    """The street admin signs their street's month, then the district admin: the month is frozen."""
    status = service.sign_off(db_session, user=user, month=service.parse_month(month), scope=parse_scope(scope),
                              now=now)
    db_session.commit()
    return StreetStatus(**status)


@router.post("/{month}/corrections", response_model=StreetStatus)
def correct(db_session: WriteDbSession, user: Signer, month: str, scope: StreetQ, body: CorrectionCreate,
            now: Now) -> StreetStatus:
    """A frozen street-month computed again, stored as a new version with the reason (older ones stay)."""
    status = service.correct(db_session, user=user, month=service.parse_month(month), scope=parse_scope(scope),
                             reason=body.reason, now=now)
    db_session.commit()
    return StreetStatus(**status)


@router.post("/{period}/pay", response_model=PayRead,
             responses=file_response("the pay table (format=xlsx)", XLSX, schema={"type": "string", "format": "binary"}))
def incentive_pay(db_session: DbSession, user: Reader, period: str, scope: ScopeQ, body: PayCreate, now: Now,
                  format: Annotated[str, Query(pattern=r"^(json|xlsx)$")] = "json") -> PayRead | Response:
    """Each street's amount and each worker's share of the pool (a month 2026-11 or a quarter
    2026-Q4), in yuan to the cent, summing exactly to the pool; from frozen months unless a draft.
    Nothing is stored: the same frozen months give the same table."""
    area = parse_scope(scope)
    if area.level != "district" or not territory(user, now).covers(area.prefix):
        raise Forbidden(f"scope {scope}: the pay is shared for your district (scope=district:…)",
                        f"统计范围 {scope} 无效：奖励性绩效按本区核定（scope=district:…）", code="scope_forbidden")
    streets = service.pay_table(db_session, period=period, pool=body.pool, now=now, prefix=area.prefix,
                                street_pools=body.street_pools, draft=body.draft)
    if format == "xlsx":
        content = sheets.pay_workbook(streets, service.rule(), period, body.pool, _street_names(db_session), body.draft)
        return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="pay-{period}.xlsx"'})
    return PayRead(period=period, pool=body.pool, draft=body.draft, rule=service.rule().pay.text,
                   streets=[StreetPayRead(street_code=s.street_code, headcount=float(s.headcount), amount=s.amount,
                                          fixed=s.fixed,
                                          workers=[WorkerPayRead(username=w.username, full_name=w.full_name,
                                                                 score=w.score, coverage=w.coverage, amount=w.amount,
                                                                 note=w.note) for w in s.workers])
                            for s in streets])
