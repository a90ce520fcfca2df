"""Who sees which visits: workers their own, street admins their street, district roles all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, true

from server.auth.enums import DISTRICT_WIDE, Role
from server.auth.models import User
from server.visits.models import Visit


def visible_visits(user: User, at: datetime) -> ColumnElement[bool]:
    role = Role(user.role)
    if role is Role.grid_worker:
        return Visit.worker_id == user.id
    if role is Role.street_admin:
        return Visit.street_code == (user.street_code or "-")
    if role in DISTRICT_WIDE and user.district_code:
        return Visit.street_code.startswith(user.district_code)
    return true()
