"""Possible duplicates: same category, near in space and time, reported by someone else.

The server only flags (possible_duplicate_of); a street admin decides and merges, and
merging keeps both events and both histories.
"""

from __future__ import annotations

import math
from datetime import timedelta

from pyproj import Geod
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.events.enums import EventState
from server.events.models import Event

DUPLICATE_METRES = 100.0
DUPLICATE_HOURS = 24.0
_GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid
_METRES_PER_DEGREE = 111_320.0


def find_candidate(*, db_session: Session, event: Event, metres: float = DUPLICATE_METRES,
                   hours: float = DUPLICATE_HOURS) -> int | None:
    """Id of the nearest open event that looks like the same incident, or None."""
    dlat = metres / _METRES_PER_DEGREE
    dlon = metres / (_METRES_PER_DEGREE * max(math.cos(math.radians(event.lat)), 0.01))
    window = timedelta(hours=hours)
    q = select(Event.id, Event.lon, Event.lat).where(
        Event.category_code == event.category_code,
        Event.reporter_id != event.reporter_id,
        Event.state.not_in([EventState.merged.value, EventState.rejected.value]),
        Event.lon.between(event.lon - dlon, event.lon + dlon),
        Event.lat.between(event.lat - dlat, event.lat + dlat),
        Event.reported_at.between(event.reported_at - window, event.reported_at + window),
    )
    best: tuple[float, int] | None = None
    for eid, lon, lat in db_session.execute(q):
        _, _, dist = _GEOD.inv(event.lon, event.lat, lon, lat)
        if dist <= metres and (best is None or (dist, eid) < best):
            best = (dist, eid)
    return best[1] if best else None
