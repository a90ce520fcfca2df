"""The app usage indicator (app_usage_rate, seed 002 "综治信息系统手机APP使用率").

Who counts: the grid workers assigned to a grid of the scope during a month (as for the per-worker
indicators); who used the app: those of them with an app session (a sync, POST /app/sessions)
that month. Several months add up their worker counts (a worker assigned three months counts
three times), so a year's rate is the share of worker-months with app use. The current month
counts up to now.

The rates of many scopes (the map's every grid) are one grouped statement: the (grid, worker, month)
assignments, each marked with whether the worker synced that month, distinct workers counted
per (area prefix, month) for each scope level asked; Python only looks the counts up. The
drill-down (one scope, a few workers) still reads the assignments and sessions as rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Date, Integer, Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import AppSession, User
from server.database.prefix import leading, prefix_range
from server.database.types import UTCDateTime
from server.grids.models import Grid, GridAssignment
from server.indicators.event_queries import common_prefix
from server.indicators.periods import TZ, Period, Scope
from server.indicators.results import Ratio


Assignment = tuple[int, str, datetime, datetime | None]  # worker, grid code, from, to


def _assignments(db_session: Session, prefix: str, start: datetime, end: datetime) -> list[Assignment]:
    return [tuple(r) for r in db_session.execute(  # type: ignore[misc]
        select(GridAssignment.user_id, Grid.code, GridAssignment.valid_from, GridAssignment.valid_to)
        .join(Grid, Grid.id == GridAssignment.grid_id).join(User, User.id == GridAssignment.user_id)
        .where(User.role == Role.grid_worker.value, prefix_range(Grid.code, prefix),
               GridAssignment.valid_from < end,
               or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > start)))]


def _syncs(db_session: Session, users: set[int], start: datetime, end: datetime) -> dict[int, list[datetime]]:
    syncs: dict[int, list[datetime]] = defaultdict(list)
    if users:
        for user_id, at in db_session.execute(select(AppSession.user_id, AppSession.first_at).where(
                AppSession.user_id.in_(users), AppSession.first_at >= start, AppSession.first_at < end)):
            syncs[user_id].append(at)
    return syncs


def _months(assignments: list[Assignment], syncs: dict[int, list[datetime]], period: Period, now: datetime
            ) -> list[tuple[Period, set[int], set[int]]]:
    out = []
    for month in period.months():
        stop = min(month.end, now)
        if stop <= month.start:
            continue
        assigned = {u for u, _, since, until in assignments
                    if since < stop and (until is None or until > month.start)}
        used = {u for u in assigned if any(month.start <= at < stop for at in syncs[u])}
        out.append((month, assigned, used))
    return out


def monthly_use(db_session: Session, scope: Scope, period: Period, now: datetime
                ) -> list[tuple[Period, set[int], set[int]]]:
    """(month, workers assigned in scope, those who synced from the app) for each elapsed month."""
    end = min(period.end, now)
    if end <= period.start:
        return []
    assignments = _assignments(db_session, scope.prefix, period.start, end)
    return _months(assignments, _syncs(db_session, {a[0] for a in assignments}, period.start, end), period, now)


def _elapsed_months(period: Period, now: datetime) -> list[Period]:
    """The period's months cut at now, those begun only."""
    return [Period(m.label, m.start, min(m.end, now)) for m in period.months() if min(m.end, now) > m.start]


def _counts(months: list[Period], prefix: str, lengths: set[int]) -> Select:  # type: ignore[type-arg]
    """(key length, area prefix, month, workers assigned, of them synced) for every prefix length.
    Whether a worker synced in a month is an EXISTS on the (user, day) unique index, bounded by the
    month's local days: a join with the month's sessions makes SQLite scan them once per worker."""
    month_rows = union_all(*(select(
        literal(i, Integer).label("i"), literal(m.start, UTCDateTime()).label("start"),
        literal(m.end, UTCDateTime()).label("stop"), literal(m.start.astimezone(TZ).date(), Date()).label("first_day"),
        literal((m.end - timedelta(microseconds=1)).astimezone(TZ).date(), Date()).label("last_day"))
        for i, m in enumerate(months))).cte("months")
    synced = (select(AppSession.id).where(
        AppSession.user_id == GridAssignment.user_id, AppSession.day >= month_rows.c.first_day,
        AppSession.day <= month_rows.c.last_day, AppSession.first_at >= month_rows.c.start,
        AppSession.first_at < month_rows.c.stop).exists())
    marked = (select(Grid.code, GridAssignment.user_id, month_rows.c.i,
                     case((synced, GridAssignment.user_id)).label("synced"))
              .join(Grid, Grid.id == GridAssignment.grid_id).join(User, User.id == GridAssignment.user_id)
              .join(month_rows, and_(GridAssignment.valid_from < month_rows.c.stop,
                                     or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > month_rows.c.start)))
              .where(User.role == Role.grid_worker.value, prefix_range(Grid.code, prefix)).cte("marked"))
    key = {n: leading(marked.c.code, n) for n in sorted(lengths)}
    return union_all(*(select(literal(n, Integer), k, marked.c.i, func.count(func.distinct(marked.c.user_id)),
                              func.count(func.distinct(marked.c.synced))).group_by(k, marked.c.i)
                       for n, k in key.items()))


def app_usage_rates(db_session: Session, scopes: Sequence[Scope], period: Period, now: datetime
                    ) -> dict[Scope, Ratio]:
    """Every scope from one grouped statement: workers are distinct within an area and month, so a
    worker of two grids of a community counts once for it (and once for each grid)."""
    months = _elapsed_months(period, now)
    if not months or not scopes:
        return {scope: Ratio(0.0, 0.0) for scope in scopes}
    totals: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    stmt = _counts(months, common_prefix(scopes), {len(sc.prefix) for sc in scopes})
    for length, key, _, assigned, synced in db_session.execute(stmt):
        totals[length, key][0] += synced
        totals[length, key][1] += assigned
    return {sc: Ratio(*totals.get((len(sc.prefix), sc.prefix), (0.0, 0.0))) for sc in scopes}


def not_using(db_session: Session, scope: Scope, period: Period, now: datetime, limit: int) -> list[dict[str, object]]:
    """The drill-down: workers assigned in the scope who did not sync from the app in some month."""
    missing: dict[int, list[str]] = defaultdict(list)
    for month, assigned, used in monthly_use(db_session, scope, period, now):
        for u in assigned - used:
            missing[u].append(month.label)
    if not missing:
        return []
    names = {u.id: u for u in db_session.scalars(select(User).where(User.id.in_(missing)))}
    last = dict(db_session.execute(select(AppSession.user_id, AppSession.last_at).where(
        AppSession.user_id.in_(missing)).order_by(AppSession.last_at)).all())
    rows = [{"网格员": names[u].username, "姓名": names[u].full_name, "未使用月份": "、".join(months),
             "最近同步": last[u].isoformat() if u in last else None} for u, months in missing.items()]
    return sorted(rows, key=lambda r: r["网格员"])[:limit]  # type: ignore[return-value]
