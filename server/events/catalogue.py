"""The configurable category catalogue and time limit (时限) policy rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import InvalidInput
from server.events.enums import TimeLimitStep
from server.events.models import EventCategory, TimeLimitPolicy
from server.events.workcal import TimeLimit


def categories(*, db_session: Session) -> list[EventCategory]:
    return list(db_session.scalars(select(EventCategory).order_by(EventCategory.code)))


def upsert_category(*, db_session: Session, code: str, name: str, parent_code: str | None, active: bool) -> EventCategory:
    """Two levels only: a parent must itself be top-level."""
    if parent_code is not None:
        parent = db_session.get(EventCategory, parent_code)
        if parent is None or parent.parent_code is not None:
            raise InvalidInput(f"parent {parent_code} must be an existing top-level category",
                               f"上级类别 {parent_code} 须为已有的一级类别", code="bad_parent_category")
    category = db_session.get(EventCategory, code) or EventCategory(code=code)
    category.name, category.parent_code, category.active = name, parent_code, active
    db_session.add(category)
    db_session.flush()
    return category


def time_limit_policies(*, db_session: Session) -> list[TimeLimitPolicy]:
    q = select(TimeLimitPolicy).order_by(TimeLimitPolicy.category_code, TimeLimitPolicy.step)
    return list(db_session.scalars(q))


def set_time_limit(*, db_session: Session, category_code: str, step: TimeLimitStep,
                   time_limit: str) -> TimeLimitPolicy:
    """Validate the limit text ('8wh', '3wd', '24h', '30d') before it can break due times."""
    try:
        TimeLimit.parse(time_limit)
    except ValueError as exc:
        raise InvalidInput(str(exc), f"时限格式无效：{time_limit}", code="bad_time_limit") from None
    if category_code != "*" and db_session.get(EventCategory, category_code) is None:
        raise InvalidInput(f"unknown category {category_code}", f"事件类别 {category_code} 不存在",
                           code="unknown_category")
    row = db_session.get(TimeLimitPolicy, (category_code, step.value)) or \
        TimeLimitPolicy(category_code=category_code, step=step.value)
    row.time_limit = time_limit
    db_session.add(row)
    db_session.flush()
    return row
