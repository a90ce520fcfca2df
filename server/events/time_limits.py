"""Time limits (时限): policy rows per category and step, and when a step is due under them.

Lookup order: the category's own row, its parent's, then the '*' default. Due times are
computed with the working-time calendar (Asia/Shanghai, public holidays, make-up days).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, literal, or_, select
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


def policies_of_category(steps: Iterable[TimeLimitStep]) -> ColumnElement[bool]:
    """Joined to a category row: the policies of its lineage for `steps`, one row per (step, code)
    that has one. A report reads its category and these in one statement (server.events.service):
    the category row says which parent's policies apply, so the join does what two reads did in a
    row. The steps are written into the statement, not an IN of a list bound at each execution:
    SQLAlchemy renders such a list into the SQL again every time (a twentieth of a report's CPU)."""
    return and_(
        or_(*(TimeLimitPolicy.step == step.value for step in steps)),
        or_(TimeLimitPolicy.category_code == EventCategory.code,
            TimeLimitPolicy.category_code == EventCategory.parent_code,
            TimeLimitPolicy.category_code == literal(DEFAULT)))


POLICY_COLUMNS = (TimeLimitPolicy.step, TimeLimitPolicy.category_code, TimeLimitPolicy.time_limit)


def of_category(category: EventCategory, rows: Iterable[tuple[str | None, str | None, str | None]],
                steps: Iterable[TimeLimitStep]) -> dict[TimeLimitStep, TimeLimit | None]:
    """The most specific limit of each step, from the (step, category_code, time_limit) rows that
    policies_of_category joined to `category` (all None where it found none). Read, not cached: an
    admin's change (PUT /events/time-limits, in any process) applies to the next event at once."""
    by_step: dict[str, dict[str, str]] = defaultdict(dict)
    for step, code, text in rows:
        if step is not None and code is not None and text is not None:
            by_step[step][code] = text
    lineage = _lineage(category.code, category.parent_code)
    return {step: _most_specific(lineage, by_step[step.value]) for step in steps}


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
