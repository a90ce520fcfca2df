"""Visit API: record (exactly once), read, list, and visits per worker-month."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.deps import CurrentUser, DbSession, Now, require_roles
from server.grids.models import Grid
from server.inputs import ApiDatetime, Page, PageSize
from server.visits import service
from server.visits.models import Visit
from server.visits.schemas import VisitCreate, VisitPage, VisitRead, WorkerMonth
from server.visits.scope import visible_visits

router = APIRouter(prefix="/visits", tags=["visits"])
Worker = Annotated[User, Depends(require_roles(Role.grid_worker))]


def _read(db_session: Session, v: Visit) -> VisitRead:
    return VisitRead(
        uuid=v.uuid, worker=db_session.scalar(select(User.username).where(User.id == v.worker_id)) or "",
        grid_code=db_session.scalar(select(Grid.code).where(Grid.id == v.grid_id)) if v.grid_id else None,
        street_code=v.street_code, started_at=v.started_at, ended_at=v.ended_at,
        minutes=round((v.ended_at - v.started_at).total_seconds() / 60.0, 1), points=v.points,
        households=v.households or [], notes=v.notes, photos=v.photos or [], counted=v.counted,
        not_counted_reason=v.not_counted_reason, not_counted_detail=v.not_counted_detail)


@router.post("", response_model=VisitRead, status_code=201,
             responses={200: {"model": VisitRead,
                              "description": "a retry of a visit already received: the first result"}})
def record_visit(db_session: DbSession, worker: Worker, body: VisitCreate, response: Response, now: Now) -> VisitRead:
    visit, created = service.create(db_session=db_session, worker=worker, data=body, now=now)
    db_session.commit()
    if not created:
        response.status_code = 200
    return _read(db_session, visit)


@router.get("", response_model=VisitPage)
def list_visits(db_session: DbSession, user: CurrentUser, now: Now, worker: str | None = None,
                started_from: ApiDatetime | None = None, started_to: ApiDatetime | None = None,
                counted: bool | None = None, page: Page = 1,
                page_size: PageSize = 50) -> VisitPage:
    q = select(Visit).where(visible_visits(user, now))
    if worker:
        q = q.where(Visit.worker_id.in_(select(User.id).where(User.username == worker)))
    if started_from:
        q = q.where(Visit.started_at >= started_from)
    if started_to:
        q = q.where(Visit.started_at < started_to)
    if counted is not None:
        q = q.where(Visit.counted.is_(counted))
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = db_session.scalars(q.order_by(Visit.started_at.desc(), Visit.id).offset((page - 1) * page_size)
                              .limit(page_size))
    return VisitPage(items=[_read(db_session, v) for v in rows], total=total, page=page, page_size=page_size)


@router.get("/per-worker-month", response_model=list[WorkerMonth])
def per_worker_month(db_session: DbSession, user: CurrentUser, now: Now,
                     month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]) -> list[WorkerMonth]:
    """Visits per worker in a month (Asia/Shanghai), against the 20-per-month target."""
    target = get_settings().visit_target_per_month
    return [WorkerMonth(worker=w.username, full_name=w.full_name, street_code=w.street_code, month=month,
                        counted=c, total=t, target=target, met=c >= target)
            for w, c, t in service.per_worker_month(db_session=db_session, user=user, month=month, now=now)]


@router.get("/{uuid}", response_model=VisitRead)
def get_visit(db_session: DbSession, user: CurrentUser, uuid: str, now: Now) -> VisitRead:
    return _read(db_session, service.get_visible(db_session=db_session, user=user, uuid=uuid, now=now))
