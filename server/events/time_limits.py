"""Time limits (时限): policy rows per category and step, and when a step is due under them.

Lookup order: the category's own row, its parent's, then the '*' default. Due times are
computed with the working-time calendar (Asia/Shanghai, public holidays, make-up days).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from server.config import get_settings
from server.events.enums import TimeLimitStep
from server.events.models import EventCategory, TimeLimitPolicy
from server.events.workcal import TimeLimit, WorkCalendar, calendar_at

DEFAULT = "*"


def calendar() -> WorkCalendar:
    """The holiday calendar GRIDOPS_HOLIDAY_CALENDAR names (default: the shipped file), read once per path."""
    return calendar_at(get_settings().holiday_calendar)


def _lineage(category_code: str, parent_code: str | None) -> list[str]:
    return [category_code] + ([parent_code] if parent_code else []) + [DEFAULT]


def _most_specific(lineage: list[str], rows: dict[str, str]) -> TimeLimit | None:
    for code in lineage:
        if code in rows:
            return TimeLimit.parse(rows[code])
    return None


_POLICIES = select(TimeLimitPolicy.step, TimeLimitPolicy.category_code, TimeLimitPolicy.time_limit).where(
    TimeLimitPolicy.category_code.in_(bindparam("lineage", expanding=True)))


def limits(*, db_session: Session, category: EventCategory,
           steps: Iterable[TimeLimitStep] = tuple(TimeLimitStep)) -> dict[TimeLimitStep, TimeLimit | None]:
    """The most specific policy of each step for a category whose row the caller holds, in one
    statement. Read, not cached: an admin's change (PUT /events/time-limits, in any process) applies
    to the next event at once; creating an event needs two steps and once took four statements."""
    lineage = _lineage(category.code, category.parent_code)
    rows: dict[str, dict[str, str]] = defaultdict(dict)
    for step, code, text in db_session.execute(_POLICIES, {"lineage": lineage}):
        rows[step][code] = text
    return {step: _most_specific(lineage, rows[step.value]) for step in steps}


def time_limit(*, db_session: Session, category_code: str, step: TimeLimitStep) -> TimeLimit | None:
    """The most specific policy row, or None when no limit is configured for the step."""
    parent = db_session.scalar(select(EventCategory.parent_code).where(EventCategory.code == category_code))
    lineage = _lineage(category_code, parent)
    rows = {r.category_code: r.time_limit for r in db_session.scalars(
        select(TimeLimitPolicy).where(TimeLimitPolicy.step == step.value, TimeLimitPolicy.category_code.in_(lineage)))}
    return _most_specific(lineage, rows)


def due_under(limit: TimeLimit | None, start: datetime) -> datetime | None:
    """When a step started at `start` is due under `limit`, or None without a limit."""
    return None if limit is None else limit.due(start, calendar())


def due(*, db_session: Session, category_code: str, step: TimeLimitStep, start: datetime) -> datetime | None:
    """When a step started at `start` is due (stored as due_at / closure_due_at), or None without a limit."""
    return due_under(time_limit(db_session=db_session, category_code=category_code, step=step), start)
