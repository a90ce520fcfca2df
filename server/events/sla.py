"""Time limits (时限): policy rows per category and step, turned into deadlines.

Lookup order: the category's own row, its parent's, then the '*' default. Deadlines are
computed with the working-time calendar (Asia/Shanghai, public holidays, make-up days).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import get_settings
from server.events.enums import SlaStep
from server.events.models import EventCategory, SlaPolicy
from server.events.workcal import TimeLimit, WorkCalendar, calendar_at

DEFAULT = "*"


def calendar() -> WorkCalendar:
    """The holiday calendar GRIDOPS_HOLIDAY_CALENDAR names (default: the shipped file), read once per path."""
    return calendar_at(get_settings().holiday_calendar)


def _lineage(db_session: Session, category_code: str) -> list[str]:
    parent = db_session.scalar(select(EventCategory.parent_code).where(EventCategory.code == category_code))
    return [category_code] + ([parent] if parent else []) + [DEFAULT]


def time_limit(*, db_session: Session, category_code: str, step: SlaStep) -> TimeLimit | None:
    """The most specific policy row, or None when no limit is configured for the step."""
    lineage = _lineage(db_session, category_code)
    rows = {r.category_code: r.time_limit for r in db_session.scalars(
        select(SlaPolicy).where(SlaPolicy.step == step.value, SlaPolicy.category_code.in_(lineage)))}
    for code in lineage:
        if code in rows:
            return TimeLimit.parse(rows[code])
    return None


def deadline(*, db_session: Session, category_code: str, step: SlaStep, start: datetime) -> datetime | None:
    limit = time_limit(db_session=db_session, category_code=category_code, step=step)
    return None if limit is None else limit.deadline(start, calendar())
