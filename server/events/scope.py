"""Who sees and who may change which events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_

from server.auth.enums import Role
from server.auth.models import User
from server.errors import Forbidden
from server.events.models import Event
from server.territory import role_of, territory


def visible_events(user: User, at: datetime) -> ColumnElement[bool]:
    """The territory by the event's street; a worker: events in their grids and their own reports."""
    t = territory(user, at)
    return t.codes(Event.street_code, worker=or_(Event.grid_id.in_(t.assigned_grid_ids()), Event.reporter_id == user.id))


def ensure_can_change(user: User, event: Event, assigned_grid_ids: set[int]) -> None:
    """Auditors never write; workers change only events inside their own grids."""
    role = role_of(user)
    if role is None:
        raise Forbidden(f"role {user.role} may not change events", f"角色 {user.role} 无权处理事件", code="role_forbidden")
    if role is Role.auditor:
        raise Forbidden("auditors have read-only access", "审计员只读", code="read_only_role")
    if role is Role.grid_worker and event.grid_id not in assigned_grid_ids:
        raise Forbidden("this event is outside your grids", "该事件不在您负责的网格内", code="outside_your_grids")
