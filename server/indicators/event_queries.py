"""Event, visit and dispute indicators as SQL aggregates over a scope and a period.

Attribution rules (documented in the README and the catalogue formulas):
- an event belongs to the period in which it was reported (reported_at), and to the scope of
  the grid it fell in; rejected (不予立案) and merged duplicates are not cases;
- it counts as closed if closed before the period ended, so a year's figures do not change
  when late closures come in afterwards;
- worker-months: each month of the period counts a worker assigned in scope during it, weighted
  by the share of the month inside the period and already elapsed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.events.enums import SATISFIED, EventState
from server.events.models import Dispute, Event
from server.grids.models import Grid, GridAssignment
from server.indicators.periods import Period, Scope, parse_period
from server.indicators.results import Ratio
from server.visits.models import Visit

NOT_CASES = (EventState.rejected.value, EventState.merged.value)


def in_scope(scope: Scope, street_col, grid_id_col) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    """District/street by the stored street code (indexed); community/grid through the grid code."""
    if scope.level in ("district", "street"):
        return street_col.startswith(scope.prefix)
    return grid_id_col.in_(select(Grid.id).where(Grid.code.startswith(scope.prefix)))


def cases(scope: Scope, period: Period) -> Select:  # type: ignore[type-arg]
    """Events that are cases of the period: the denominator of the closure rates."""
    return select(Event).where(
        in_scope(scope, Event.street_code, Event.grid_id), Event.reported_at >= period.start,
        Event.reported_at < period.end, Event.state.not_in(NOT_CASES))


def closure_rate(db_session: Session, scope: Scope, period: Period) -> Ratio:
    """办结率 = cases closed before the period ended / cases reported in the period."""
    closed = and_(Event.closed_at.is_not(None), Event.closed_at < period.end)
    return _count_ratio(db_session, cases(scope, period), closed)


def on_time_closure_rate(db_session: Session, scope: Scope, period: Period) -> Ratio:
    """正常办结率 = cases closed within their time limit (and before the period ended) / cases."""
    on_time = and_(Event.closed_on_time.is_(True), Event.closed_at < period.end)
    return _count_ratio(db_session, cases(scope, period), on_time)


def satisfaction(db_session: Session, scope: Scope, period: Period) -> Ratio:
    """满意度 = (一般 + 满意 + 非常满意) / 评价数量, over reviews of events reported in the period."""
    q = cases(scope, period).where(Event.satisfaction.is_not(None))
    return _count_ratio(db_session, q, Event.satisfaction.in_([s.value for s in SATISFIED]))


def _count_ratio(db_session: Session, q: Select, numerator: ColumnElement[bool]) -> Ratio:  # type: ignore[type-arg]
    stmt = q.with_only_columns(func.coalesce(func.sum(case((numerator, 1), else_=0)), 0), func.count(Event.id))
    num, den = db_session.execute(stmt).one()
    return Ratio(float(num), float(den))


def worker_months(db_session: Session, scope: Scope, period: Period, now: datetime) -> float:
    """Σ over months of (workers assigned in scope during the month) × (share of the month counted)."""
    total = 0.0
    for month in period.months():
        end = min(month.end, now)
        if end <= month.start:
            continue
        full = month_seconds(month)
        q = (select(func.count(func.distinct(GridAssignment.user_id)))
             .join(Grid, Grid.id == GridAssignment.grid_id).join(User, User.id == GridAssignment.user_id)
             .where(User.role == "grid_worker", Grid.code.startswith(scope.prefix),
                    GridAssignment.valid_from < end,
                    or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > month.start)))
        total += (db_session.scalar(q) or 0) * (end - month.start).total_seconds() / full
    return total


def month_seconds(month: Period) -> float:
    """Length of the whole calendar month a (possibly clipped) month period belongs to."""
    whole = parse_period(month.label)
    return (whole.end - whole.start).total_seconds()


def reports_per_worker_month(db_session: Session, scope: Scope, period: Period, now: datetime) -> Ratio:
    """人均月上报量 = events reported by grid workers in scope / worker-months."""
    q = (select(func.count(Event.id)).join(User, User.id == Event.reporter_id)
         .where(User.role == "grid_worker", in_scope(scope, Event.street_code, Event.grid_id),
                Event.reported_at >= period.start, Event.reported_at < period.end))
    return Ratio(float(db_session.scalar(q) or 0), worker_months(db_session, scope, period, now), scale=1.0)


def visits_per_worker_month(db_session: Session, scope: Scope, period: Period, now: datetime) -> Ratio:
    """巡查走访 = visits that count (duration and location rule) / worker-months."""
    q = select(func.count(Visit.id)).where(
        Visit.counted.is_(True), in_scope(scope, Visit.street_code, Visit.grid_id),
        Visit.started_at >= period.start, Visit.started_at < period.end)
    return Ratio(float(db_session.scalar(q) or 0), worker_months(db_session, scope, period, now), scale=1.0)


def _disputes(scope: Scope, period: Period) -> Select:  # type: ignore[type-arg]
    return (select(Dispute).join(Event, Event.id == Dispute.event_id)
            .where(in_scope(scope, Event.street_code, Event.grid_id), Event.reported_at >= period.start,
                   Event.reported_at < period.end))


def mediation_success_rate(db_session: Session, scope: Scope, period: Period) -> Ratio:
    """人民调解成功率 = mediations that succeeded / mediations with a result."""
    q = _disputes(scope, period).where(Dispute.mediation_result.is_not(None)).with_only_columns(
        func.coalesce(func.sum(case((Dispute.mediation_result == "success", 1), else_=0)), 0), func.count())
    num, den = db_session.execute(q).one()
    return Ratio(float(num), float(den))


def dispute_reply_rate(db_session: Session, scope: Scope, period: Period, now: datetime) -> Ratio:
    """30日内答复率 = disputes answered by their 30-day deadline / disputes already due or answered
    at `now`, so disputes still within their 30 days are not counted against anyone."""
    replied = and_(Dispute.replied_at.is_not(None), Dispute.replied_at <= now)
    q = _disputes(scope, period).where(or_(Dispute.reply_due_at < now, replied))
    ok = and_(replied, Dispute.replied_at <= Dispute.reply_due_at)
    num, den = db_session.execute(q.with_only_columns(
        func.coalesce(func.sum(case((ok, 1), else_=0)), 0), func.count())).one()
    return Ratio(float(num), float(den))
