"""Who sees and who may change which events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, true

from server.auth.enums import DISTRICT_WIDE, Role
from server.auth.models import User
from server.errors import Forbidden
from server.events.models import Event
from server.grids.models import GridAssignment
from server.grids.scope import active_assignment


def _assigned_grids(user: User, at: datetime):  # type: ignore[no-untyped-def]
    return select(GridAssignment.grid_id).where(GridAssignment.user_id == user.id, active_assignment(at))


def visible_events(user: User, at: datetime) -> ColumnElement[bool]:
    """Workers: events in their grids and their own reports; street admins: their street;
    district-wide roles: their district."""
    role = Role(user.role)
    if role is Role.grid_worker:
        return or_(Event.grid_id.in_(_assigned_grids(user, at)), Event.reporter_id == user.id)
    if role is Role.street_admin:
        return Event.street_code == (user.street_code or "-")
    if role in DISTRICT_WIDE and user.district_code:
        return Event.street_code.startswith(user.district_code)
    return true()


def ensure_can_change(user: User, event: Event, assigned_grid_ids: set[int]) -> None:
    """Auditors never write; workers change only events inside their own grids."""
    role = Role(user.role)
    if role is Role.auditor:
        raise Forbidden("auditors have read-only access", "审计员只读", code="read_only_role")
    if role is Role.grid_worker and event.grid_id not in assigned_grid_ids:
        raise Forbidden("this event is outside your grids", "该事件不在您负责的网格内", code="outside_your_grids")
