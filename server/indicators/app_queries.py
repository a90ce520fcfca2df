"""The app usage indicator (app_usage_rate, seed 002 "综治信息系统手机APP使用率").

Who counts: the grid workers assigned to a grid of the scope during a month (as for the per-worker
indicators); who used the app: those of them with an app session (a sync, POST /app/sessions)
that month. Several months add up their worker counts (a worker assigned three months counts
three times), so a year's rate is the share of worker-months with app use. The current month
counts up to now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from os.path import commonprefix

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.auth.enums import Role
from server.auth.models import AppSession, User
from server.database.prefix import prefix_range
from server.grids.models import Grid, GridAssignment
from server.indicators.periods import Period, Scope
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


def app_usage_rates(db_session: Session, scopes: Sequence[Scope], period: Period, now: datetime
                    ) -> dict[Scope, Ratio]:
    """Every scope from one read of the assignments and one of the app sessions (the map of every grid)."""
    end = min(period.end, now)
    if end <= period.start or not scopes:
        return {scope: Ratio(0.0, 0.0) for scope in scopes}
    prefix = commonprefix([scope.prefix for scope in scopes])
    assignments = _assignments(db_session, prefix, period.start, end)
    syncs = _syncs(db_session, {a[0] for a in assignments}, period.start, end)
    out = {}
    for scope in scopes:
        months = _months([a for a in assignments if a[1].startswith(scope.prefix)], syncs, period, now)
        out[scope] = Ratio(float(sum(len(u) for _, _, u in months)), float(sum(len(a) for _, a, _ in months)))
    return out


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
