"""Visits: exactly-once recording, the counting rule, and visits per worker-month.

A visit counts toward `visits per worker-month` only if it lasted at least
`visit_min_minutes` and at least `visit_min_inside_share` of its check-in points fall inside
grids assigned to the worker when the visit started, and it was synced within the late-sync
window (`late_sync_days` after it started: a visit back-dated by a phone's clock or synced after
its month was assessed is kept, not counted). The API says why a visit did not count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPoint
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.assign import GridIndex
from gis.crs import CGCS2000
from gis.datum import to_cgcs2000
from server.auth.models import User
from server.config import get_settings
from server.errors import InvalidInput, NotFound
from server.events.service import MAX_CLOCK_SKEW
from server.geometry import to_shapely
from server.grids.models import Grid, GridAssignment
from server.idempotency import check_replay, fingerprint
from server.inputs import year_in_range
from server.photos import service as photos
from server.territory import active_assignment
from server.visits.models import Visit
from server.visits.schemas import VisitCreate
from server.visits.scope import visible_visits


def _assigned_grids(db_session: Session, worker: User, at: datetime) -> list[Grid]:
    q = (select(Grid).join(GridAssignment, GridAssignment.grid_id == Grid.id)
         .where(GridAssignment.user_id == worker.id, active_assignment(at)).order_by(Grid.code))
    return list(db_session.scalars(q))


def grid_index(grids: Sequence[Grid]) -> GridIndex | None:
    """The worker's grids as a point → grid index (None when the worker has none)."""
    return GridIndex([g.code for g in grids], [to_shapely(g.geom) for g in grids]) if grids else None


def judge(*, index: GridIndex | None, grid_ids: Sequence[int], lon: np.ndarray, lat: np.ndarray,
          minutes: float) -> tuple[bool, str | None, str | None, int | None]:
    """(counted, reason code, reason text, main grid id) for a visit's points and duration.

    `grid_ids` are in the order of the index's grids; the main grid is where most points fell.
    """
    settings = get_settings()
    inside = index.assign(lon, lat) if index is not None else np.full(len(lon), -1)
    hits = inside[inside >= 0]
    main = grid_ids[Counter(hits.tolist()).most_common(1)[0][0]] if len(hits) else None
    if index is None:
        return False, "no_assigned_grids", "worker had no assigned grid when the visit started / 走访时未分配网格", main
    if minutes < settings.visit_min_minutes:
        return False, "too_short", (f"lasted {minutes:.1f} min, needs {settings.visit_min_minutes} / "
                                    f"时长{minutes:.1f}分钟，不足{settings.visit_min_minutes}分钟"), main
    share = len(hits) / len(lon)
    if share < settings.visit_min_inside_share:
        return False, "outside_assigned_grids", (
            f"{len(lon) - len(hits)} of {len(lon)} points outside the worker's grids "
            f"({share:.0%} inside, needs {settings.visit_min_inside_share:.0%}) / "
            f"{len(lon) - len(hits)}个定位点不在本人网格内"), main
    return True, None, None, main


def synced_too_late(*, started_at: datetime, now: datetime) -> str | None:
    """Why a visit received after the late-sync window does not count; None when it came in time.

    Kept rather than refused: the worker's record stays and an assessment can see what was late.
    """
    settings = get_settings()
    if started_at >= now - settings.late_sync_window:
        return None
    days, limit = (now - started_at).days, settings.late_sync_days
    return (f"synced {days} days after it started, visits count only when synced within {limit} days / "
            f"走访开始{days}天后才同步，超过{limit}天不计入")


def create(*, db_session: Session, worker: User, data: VisitCreate, now: datetime) -> tuple[Visit, bool]:
    """(visit, created); a retry with the same uuid and body returns the first visit."""
    request_hash = fingerprint(data)
    if (found := _existing(db_session, str(data.uuid), request_hash, worker)) is not None:
        return found, False
    if data.started_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput("started_at is in the future: check the phone's clock", "走访开始时间晚于服务器时间",
                           code="clock_skew")
    photos.ensure_exist(db_session=db_session, keys=data.photos, user=worker, now=now)
    lon, lat = to_cgcs2000(np.array([p.lon for p in data.points]), np.array([p.lat for p in data.points]),
                           data.datum.value)
    minutes = (data.ended_at - data.started_at).total_seconds() / 60.0
    grids = _assigned_grids(db_session, worker, data.started_at)
    counted, reason, detail, grid_id = judge(index=grid_index(grids), grid_ids=[g.id for g in grids],
                                             lon=lon, lat=lat, minutes=minutes)
    if (late := synced_too_late(started_at=data.started_at, now=now)) is not None:
        counted, reason, detail = False, "synced_too_late", late
    visit = Visit(
        uuid=str(data.uuid), request_hash=request_hash, worker_id=worker.id, street_code=worker.street_code,
        grid_id=grid_id, started_at=data.started_at, ended_at=data.ended_at, geom=from_shape(MultiPoint(np.column_stack([lon, lat])), srid=CGCS2000),
        points=[{"lon": float(x), "lat": float(y), "at": p.at.isoformat() if p.at else None}
                for x, y, p in zip(lon, lat, data.points, strict=True)],
        households=data.households, notes=data.notes, photos=data.photos, counted=counted,
        not_counted_reason=reason, not_counted_detail=detail, created_at=now)
    try:
        with db_session.begin_nested():
            db_session.add(visit)
            db_session.flush()
    except IntegrityError:
        found = _existing(db_session, str(data.uuid), request_hash, worker)
        if found is None:
            raise
        return found, False
    photos.link(db_session=db_session, keys=data.photos, record_type="visit", record_id=visit.id,
                street_code=visit.street_code, grid_id=None, owner_id=worker.id)
    db_session.flush()
    return visit, True


def _existing(db_session: Session, uuid: str, request_hash: str, worker: User) -> Visit | None:
    visit = db_session.scalar(select(Visit).where(Visit.uuid == uuid))
    if visit is not None:
        check_replay(key=uuid, stored_hash=visit.request_hash, request_hash=request_hash, owner_id=visit.worker_id,
                     user_id=worker.id)
    return visit


def get_visible(*, db_session: Session, user: User, uuid: str, now: datetime) -> Visit:
    visit = db_session.scalar(select(Visit).where(Visit.uuid == uuid, visible_visits(user, now)))
    if visit is None:
        raise NotFound(f"visit {uuid} not found", f"走访记录 {uuid} 不存在", code="visit_not_found")
    return visit


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """A calendar month in Asia/Shanghai as a UTC half-open interval."""
    tz = ZoneInfo(get_settings().timezone)
    try:
        year, mon = (int(x) for x in month.split("-"))
        if not year_in_range(year):
            raise ValueError(year)  # 0001-01 has no UTC, 9999-12 no end
        start = datetime(year, mon, 1, tzinfo=tz)
    except ValueError:
        raise InvalidInput(f"month must be YYYY-MM, got {month!r}", "月份格式应为YYYY-MM", code="bad_month") from None
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def per_worker_month(*, db_session: Session, user: User, month: str, now: datetime) -> list[tuple[User, int, int]]:
    """(worker, counted, total) for every visible worker with visits that month (by start time)."""
    start, end = month_bounds(month)
    q = (select(Visit.worker_id, func.sum(cast(Visit.counted, Integer)), func.count())
         .where(Visit.started_at >= start, Visit.started_at < end, visible_visits(user, now))
         .group_by(Visit.worker_id))
    rows = db_session.execute(q).all()
    workers = {u.id: u for u in db_session.scalars(select(User).where(User.id.in_([r[0] for r in rows])))}
    return sorted(((workers[w], int(c or 0), int(t)) for w, c, t in rows), key=lambda r: r[0].username)
