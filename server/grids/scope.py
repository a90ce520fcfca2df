"""Which grids a user may see: the territory by grid code; a worker the grids assigned at `at`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement

from server.auth.models import User
from server.grids.models import Grid
from server.territory import active_assignment, territory

__all__ = ["active_assignment", "visible_grids"]


def visible_grids(user: User | None, at: datetime) -> ColumnElement[bool]:
    """`None` is the trusted CLI, which holds the database credentials itself."""
    t = territory(user, at)
    return t.codes(Grid.code, worker=Grid.id.in_(t.assigned_grid_ids()))
