"""Which rentals a user may see: the territory by grid, filtered, let now or at a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from gis.codes import area_prefix

from server.auth.models import User
from server.database.prefix import prefix_range
from server.grids.models import Grid
from server.rentals.models import Rental
from server.territory import territory


def rentals_query(user: User | None, *, now: datetime, street_code: str | None = None, grid_code: str | None = None,
                  managed: bool | None = None, let_at: datetime | None = None):  # type: ignore[no-untyped-def]
    """Rentals in the user's territory at `now`, let now (or at `let_at`: registered before it, not closed then)."""
    q = select(Rental).outerjoin(Grid, Rental.grid_id == Grid.id).where(territory(user, now).grids(Rental.grid_id))
    if let_at is None:
        q = q.where(Rental.closed_at.is_(None))
    else:
        q = q.where(Rental.created_at < let_at, or_(Rental.closed_at.is_(None), Rental.closed_at > let_at))
    if street_code:
        q = q.where(prefix_range(Grid.code, area_prefix(street_code)))
    if grid_code:
        q = q.where(Grid.code == grid_code)
    if managed is not None:
        q = q.where(Rental.managed.is_(managed))
    return q
