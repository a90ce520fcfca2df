"""The map's grid card: the grid, its workers, open events, devices and indicators, in one request.

The grid is found as GET /grids/{code} finds it (grids.service.get_visible: a grid outside the
territory is as unknown as one that does not exist); the indicators are the engine's values for the
grid scope, judged against the catalogue's targets, for those the catalogue defines for grids.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gis.codes import street_of
from metrics.catalogue import get_indicator
from server.auth.models import User
from server.devices import service as devices
from server.events import service as events
from server.grids import service as grids
from server.indicators import service
from server.indicators.periods import Period, Scope
from server.indicators.schemas import CardDevices, CardEvents, CardGrid, CardIndicator, CardWorker, GridCard

GRID_CODES = tuple(c for c in service.COMPUTABLE if "grid" in get_indicator(c).scope_levels)


def grid_card(*, db_session: Session, user: User, code: str, period: Period, now: datetime) -> GridCard:
    grid = grids.get_visible(db_session=db_session, user=user, code=code, now=now)
    community = grid.community
    scope = Scope("grid", grid.code)
    values = service.compute_many(db_session=db_session, scopes=[scope], codes=GRID_CODES, period=period, now=now)
    return GridCard(
        grid=CardGrid(code=grid.code, name=grid.name, street_code=street_of(community.code),
                      street_name=community.street.name, community_code=community.code,
                      community_name=community.name),
        period=period.label,
        workers=[CardWorker(username=u.username, name=u.full_name, since=since)
                 for u, since in grids.workers_on(db_session=db_session, grid=grid, at=now)],
        events=CardEvents(**events.open_counts(db_session=db_session, grid_id=grid.id)),
        devices=CardDevices(**devices.status_counts(db_session=db_session, grid_id=grid.id, now=now)),
        indicators=[CardIndicator(code=v.code, name=v.name_zh, value=v.value, unit=v.unit, target=v.target,
                                  direction=v.direction, met=None if v.status == "no_data" else v.status == "met")
                    for v in (values[scope, c] for c in GRID_CODES)],
    )
