"""The records behind an indicator value: which events were not closed or late, who visited too little.

Rows are plain dicts with Chinese-labelled keys decided here, so the API, the xlsx sheet and
the drafted deviation reasons show the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session

from server.database.prefix import prefix_range
from server.auth.models import User
from server.config import get_settings
from server.events import service as events
from server.events.enums import SATISFIED, STATE_LABELS_ZH, EventState
from server.events.models import Event, EventCategory
from server.grids.models import Grid, GridAssignment
from devices.codes import DeviceKind
from server.indicators import app_queries, device_queries
from server.indicators import event_queries as q
from server.indicators.periods import Period, Scope
from server.visits.models import Visit

REPORTS_TARGET = 4.0  # seed 003: 人均月上报量 ≥ 4

Rows = list[dict[str, Any]]


def _event_rows(db_session: Session, stmt, limit: int) -> Rows:  # type: ignore[no-untyped-def]
    """Events as a person reads them: the spoken number, Chinese category and state (the UUID last, to look up)."""
    stmt = stmt.add_columns(Grid.code).join(Grid, Grid.id == Event.grid_id).order_by(Event.reported_at).limit(limit)
    names = dict(db_session.execute(select(EventCategory.code, EventCategory.name)).tuples().all())
    return [{"事件编号": events.shown_serial(e.serial), "网格": code,
             "类别": names.get(e.category_code, e.category_code),
             "状态": STATE_LABELS_ZH[EventState(e.state)],
             "上报时间": e.reported_at, "办结时限": e.closure_due_at, "办结时间": e.closed_at, "超期": e.overdue,
             "UUID": e.uuid}
            for e, code in db_session.execute(stmt)]


def not_closed(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int) -> Rows:
    closed = and_(Event.closed_at.is_not(None), Event.closed_at < period.end)
    return _event_rows(db_session, q.cases(scope, period).where(not_(closed)), limit)


def not_on_time(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int) -> Rows:
    on_time = and_(Event.closed_on_time.is_(True), Event.closed_at < period.end)
    return _event_rows(db_session, q.cases(scope, period).where(not_(on_time)), limit)


def dissatisfied(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int) -> Rows:
    stmt = q.cases(scope, period).where(Event.satisfaction.is_not(None),
                                        Event.satisfaction.not_in([s.value for s in SATISFIED]))
    return _event_rows(db_session, stmt, limit)


def _workers_in_scope(db_session: Session, scope: Scope, period: Period) -> list[tuple[int, str, str]]:
    stmt = (select(User.id, User.username, User.full_name).distinct()
            .join(GridAssignment, GridAssignment.user_id == User.id).join(Grid, Grid.id == GridAssignment.grid_id)
            .where(User.role == "grid_worker", prefix_range(Grid.code, scope.prefix),
                   GridAssignment.valid_from < period.end,
                   or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > period.start)))
    return [tuple(r) for r in db_session.execute(stmt)]  # type: ignore[misc]


def _below_target(db_session: Session, scope: Scope, period: Period, now: datetime, counts: dict[int, int],
                  target: float, limit: int) -> Rows:
    """Workers whose own monthly average is below target (months elapsed in the period)."""
    months = sum((min(m.end, now) - m.start).total_seconds() / q.month_seconds(m)
                 for m in period.months() if min(m.end, now) > m.start)
    rows = []
    for uid, username, full_name in _workers_in_scope(db_session, scope, period):
        avg = counts.get(uid, 0) / months if months else 0.0
        if avg < target:
            rows.append({"网格员": username, "姓名": full_name, "数量": counts.get(uid, 0), "月均": round(avg, 2),
                         "目标": target})
    return sorted(rows, key=lambda r: (r["月均"], r["网格员"]))[:limit]


def low_visits(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int) -> Rows:
    stmt = (select(Visit.worker_id, func.count()).where(
        Visit.counted.is_(True), q.in_scope(scope, Visit.street_code, Visit.grid_id),
        Visit.started_at >= period.start, Visit.started_at < period.end).group_by(Visit.worker_id))
    counts = dict(db_session.execute(stmt).tuples().all())
    return _below_target(db_session, scope, period, now, counts, get_settings().visit_target_per_month, limit)


def low_reports(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int) -> Rows:
    stmt = (select(Event.reporter_id, func.count()).where(
        q.in_scope(scope, Event.street_code, Event.grid_id), Event.reported_at >= period.start,
        Event.reported_at < period.end).group_by(Event.reporter_id))
    counts = dict(db_session.execute(stmt).tuples().all())
    return _below_target(db_session, scope, period, now, counts, REPORTS_TARGET, limit)


REGISTRY: dict[str, Callable[[Session, Scope, Period, datetime, int], Rows]] = {
    "closure_rate": not_closed,
    "on_time_closure_rate": not_on_time,
    "satisfaction": dissatisfied,
    "visits_per_worker_month": low_visits,
    "reports_per_worker_month": low_reports,
    "app_usage_rate": app_queries.not_using,
    "online_rate": lambda s, sc, p, now, n: device_queries.offline_devices(s, sc, p, now, DeviceKind.camera, n),
    "link_online_rate": lambda s, sc, p, now, n: device_queries.offline_devices(s, sc, p, now, DeviceKind.link, n),
    "terminal_online_rate": lambda s, sc, p, now, n: device_queries.offline_devices(s, sc, p, now,
                                                                                     DeviceKind.terminal, n),
}
