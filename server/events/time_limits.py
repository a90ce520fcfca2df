"""Time limits (时限): policy rows per category and step, and when a step is due under them.

Lookup order: the category's own row, its parent's, then the '*' default. Due times are
computed with the working-time calendar (Asia/Shanghai, public holidays, make-up days).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import get_settings
from server.events.enums import TimeLimitStep
from server.events.models import EventCategory, TimeLimitPolicy
from server.events.workcal import TimeLimit, WorkCalendar, calendar_at

DEFAULT = "*"


def calendar() -> WorkCalendar:
    """The holiday calendar GRIDOPS_HOLIDAY_CALENDAR names (default: the shipped file), read once per path."""
    return calendar_at(get_settings().holiday_calendar)


def _lineage(db_session: Session, category_code: str) -> list[str]:
    parent = db_session.scalar(select(EventCategory.parent_code).where(EventCategory.code == category_code))
    return [category_code] + ([parent] if parent else []) + [DEFAULT]


def time_limit(*, db_session: Session, category_code: str, step: TimeLimitStep) -> TimeLimit | None:
    """The most specific policy row, or None when no limit is configured for the step."""
    lineage = _lineage(db_session, category_code)
    rows = {r.category_code: r.time_limit for r in db_session.scalars(
        select(TimeLimitPolicy).where(TimeLimitPolicy.step == step.value, TimeLimitPolicy.category_code.in_(lineage)))}
    for code in lineage:
        if code in rows:
            return TimeLimit.parse(rows[code])
    return None


def due(*, db_session: Session, category_code: str, step: TimeLimitStep, start: datetime) -> datetime | None:
    """When a step started at `start` is due (stored as due_at / closure_due_at), or None without a limit."""
    limit = time_limit(db_session=db_session, category_code=category_code, step=step)
    return None if limit is None else limit.due(start, calendar())
