"""Who sees what: the one territory rule every domain asks, ending in *deny*.

A user's territory is a code prefix (a district's 6 digits or a street's 9), or, for a grid
worker, the grids assigned to them at a moment. Grid, community and street codes embed their
parents' codes (编码固定), so a prefix of any stored code is the area filter. Anything this
module does not recognise (a new role, a district-wide role without a district, a street admin
without a street or with one outside their district) sees nothing, and may do nothing a role
grants (server.deps.require_roles asks here too): access is granted by a rule, never by falling
through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from gis.codes import area_prefix, district_code_problem, street_code_problem
from server.auth.enums import DISTRICT_WIDE, Role
from server.auth.models import User
from server.auth.service import role_of
from server.database.prefix import prefix_range
from server.errors import Forbidden
from server.grids.models import Grid, GridAssignment


def active_assignment(at: datetime) -> ColumnElement[bool]:
    """Assignment rows in force at `at` (history is kept: a worker who moved counts in both grids)."""
    return and_(
        GridAssignment.valid_from <= at,
        or_(GridAssignment.valid_to.is_(None), GridAssignment.valid_to > at),
    )


@dataclass(frozen=True)
class Territory:
    """One user's territory at one moment; build it with `territory(user, at)`."""

    at: datetime
    prefix: str | None = None  # district (6 digits) or street (9 digits) code prefix
    worker_id: int | None = None  # a grid worker: the grids assigned at `at`
    everything: bool = False  # trusted callers only (the CLI, scheduled jobs): no user at all
    district_wide: bool = False  # sees things outside every grid of the district too

    @property
    def nothing(self) -> bool:
        return not (self.everything or self.prefix or self.worker_id is not None)

    def assigned_grid_ids(self) -> Select[Any]:
        return select(GridAssignment.grid_id).where(GridAssignment.user_id == self.worker_id,
                                                    active_assignment(self.at))

    def assigned_community_ids(self) -> Select[Any]:
        """The communities of a worker's assigned grids (for listing the administrative tree)."""
        return select(Grid.community_id).where(Grid.id.in_(self.assigned_grid_ids()))

    def codes(self, code_column: Any, *, worker: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
        """Rows whose stored street/community/grid code lies in the territory. A grid worker sees
        only what `worker` (the domain's own rule for workers) grants, and nothing without it."""
        if self.everything:
            return true()
        if self.prefix:
            return prefix_range(code_column, self.prefix)
        if self.worker_id is not None and worker is not None:
            return worker
        return false()

    def grids(self, grid_id_column: Any) -> ColumnElement[bool]:
        """Rows placed in a grid of the territory (grids themselves, devices, rentals). Rows placed
        in no grid have no street, so only the whole district (and trusted callers) see them."""
        if self.everything:
            return true()
        if self.worker_id is not None:
            return grid_id_column.in_(self.assigned_grid_ids())
        if not self.prefix:
            return false()
        in_grids = grid_id_column.in_(select(Grid.id).where(prefix_range(Grid.code, self.prefix)))
        return or_(in_grids, grid_id_column.is_(None)) if self.district_wide else in_grids

    def holds_places(self, db_session: Session, grid_ids: Iterable[int | None]) -> bool:
        """Whether records placed in these grids (None: in no grid) lie in the territory: where a
        user may put new records or move old ones."""
        ids = set(grid_ids)
        if None in ids and not (self.everything or self.district_wide):
            return False
        ids.discard(None)
        inside = db_session.scalars(select(Grid.id).where(Grid.id.in_(ids), self.grids(Grid.id))) if ids else []
        return ids == set(inside)

    def covers(self, code: str) -> bool:
        """Whether a whole area (by its code) lies inside a prefix territory; a worker's
        territory is a set of grids, asked about through `grids()`."""
        return self.everything or bool(self.prefix and code.startswith(self.prefix))


def territory(user: User | None, at: datetime) -> Territory:
    """The rule, written once. `None` is the trusted caller that holds the database itself."""
    if user is None:
        return Territory(at=at, everything=True)
    role = role_of(user)
    if role is Role.grid_worker and user.id is not None:
        return Territory(at=at, worker_id=user.id)
    if role is Role.street_admin and user.street_code and street_code_problem(
            user.street_code, user.district_code or None) is None:  # a street of the user's own district
        return Territory(at=at, prefix=area_prefix(user.street_code))
    if role in DISTRICT_WIDE and user.district_code and district_code_problem(user.district_code) is None:
        return Territory(at=at, prefix=user.district_code, district_wide=True)
    return Territory(at=at)


def ensure_holds(db_session: Session, user: User | None, at: datetime, grid_ids: Iterable[int | None]) -> None:
    """Refuse (403) to place records in grids outside the user's territory (or in no grid, unless
    the user's territory is the whole district)."""
    if not territory(user, at).holds_places(db_session, grid_ids):
        raise Forbidden("this place is outside your area", "该位置不在您的管辖范围内", code="scope_forbidden")
