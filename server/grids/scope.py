"""Which grids a user may see: the one rule every grid-scoped query goes through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true

from server.auth.enums import DISTRICT_WIDE, Role
from server.auth.models import User
from server.grids.models import Grid, GridAssignment


def active_assignment(at: datetime) -> ColumnElement[bool]:
    return and_(
        GridAssignment.valid_from <= at,
        or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > at),
    )


def visible_grids(user: User | None, at: datetime) -> ColumnElement[bool]:
    """Workers: grids assigned now; street admins: their street; district-wide roles: their district.

    Grid codes embed the community code (编码固定), so a code prefix is the street/district filter.
    """
    if user is None:  # trusted callers only: the CLI, which holds the database credentials itself
        return true()
    role = Role(user.role)
    if role is Role.grid_worker:
        assigned = select(GridAssignment.grid_id).where(GridAssignment.user_id == user.id, active_assignment(at))
        return Grid.id.in_(assigned)
    if role is Role.street_admin:
        return Grid.code.startswith((user.street_code or "x")[:9])
    if role in DISTRICT_WIDE and user.district_code:
        return Grid.code.startswith(user.district_code)
    return true()
