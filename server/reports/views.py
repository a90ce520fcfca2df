"""Trainings (recorded by admins) and the weekly situation report (produced on demand or by cron)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import and_, false, or_, select

from gis.codes import area_code, district_of
from server.auth.enums import Role
from server.auth.models import User
from server.deps import CurrentUser, DbSession, Now, ReadDbSession, require_roles
from metrics.weekly_report import write_weekly_report
from server.errors import InvalidInput, NotFound
from server.inputs import ApiDate, IdPath
from server.openapi import file_response
from server.reports import service
from server.reports.models import Training, WeeklyReport
from server.reports.schemas import TrainingIn, TrainingRead, WeeklyReportRead
from server.reports.weekly import summary
from server.territory import territory

router = APIRouter(tags=["reports"])
Recorder = Annotated[User, Depends(require_roles(Role.district_admin, Role.street_admin))]
Producer = Annotated[User, Depends(require_roles(Role.district_admin, Role.command_center))]
# The weekly report lists district-wide overdue events and outages: district-wide roles only.
DistrictReader = Annotated[User, Depends(require_roles(Role.district_admin, Role.command_center, Role.auditor))]


@router.post("/trainings", response_model=TrainingRead, status_code=201)
def add_training(db_session: DbSession, user: Recorder, body: TrainingIn) -> Training:
    row = service.add_training(db_session=db_session, user=user, data=body)
    db_session.commit()
    return row


@router.get("/trainings", response_model=list[TrainingRead])
def list_trainings(db_session: DbSession, user: CurrentUser, now: Now) -> list[Training]:
    """A street sees its own sessions and the district's; the district all of them."""
    t = territory(user, now)
    district = district_of(area_code(t.prefix)) if t.prefix else None
    district_sessions = (and_(Training.street_code.is_(None), Training.district_code == district) if district
                         else false())
    q = select(Training).where(or_(t.codes(Training.street_code), district_sessions))
    q = q.order_by(Training.held_at.desc())
    return list(db_session.scalars(q.limit(500)))


def _district(user: User) -> str:
    if not user.district_code:
        raise InvalidInput("user has no district", "用户未关联区", code="no_district")
    return user.district_code


@router.post("/reports/weekly", response_model=WeeklyReportRead, status_code=201)
def produce_weekly(db_session: DbSession, reads: ReadDbSession, user: Producer,
                   now: Now,
                   week: Annotated[ApiDate | None, Query(description="any day of the week; default: this week")] = None
                   ) -> WeeklyReport:
    row, _ = service.produce_weekly(db_session=db_session, district_code=_district(user), area=_district(user),
                                    week_start=week or now.date(), now=now, user=user, read_session=reads)
    db_session.commit()
    return row


@router.get("/reports/weekly", response_model=list[WeeklyReportRead])
def list_weekly(db_session: DbSession, user: DistrictReader, now: Now) -> list[WeeklyReport]:
    q = select(WeeklyReport).where(territory(user, now).codes(WeeklyReport.district_code))
    return list(db_session.scalars(q.order_by(WeeklyReport.generated_at.desc()).limit(100)))


@router.get("/reports/weekly/{report_id}.docx", response_class=Response,
            responses=file_response("the weekly report as Word, with charts",
                                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
def weekly_docx(db_session: DbSession, user: DistrictReader, report_id: IdPath, now: Now) -> Response:
    """The report as Word, with charts, regenerated from the data of its week."""
    row = db_session.get(WeeklyReport, report_id)
    if row is None or not territory(user, now).covers(row.district_code):
        raise NotFound(f"weekly report {report_id} not found", f"周报 {report_id} 不存在", code="report_not_found")
    data = summary(db_session=db_session, district_code=row.district_code, area=row.district_code,
                   week_start=row.week_start, now=row.generated_at)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_weekly_report(data, Path(tmp))
        assert files.docx is not None
        content = files.docx.read_bytes()
    return Response(content, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="weekly_{row.week_start:%Y%m%d}.docx"'})
