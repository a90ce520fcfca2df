"""Possible duplicates: same category, near in space and time, reported by someone else.

The server only flags (possible_duplicate_of); a street admin decides and merges, and
merging keeps both events and both histories.
"""

from __future__ import annotations

import math
from datetime import timedelta

from pyproj import Geod
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from server.events.enums import EventState
from server.events.models import Event

DUPLICATE_METRES = 100.0
DUPLICATE_HOURS = 24.0
_GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid
_METRES_PER_DEGREE = 111_320.0


# Built once (a statement keeps its cache key): building it per report cost more than running it.
# No IN of a list: SQLAlchemy renders a list's values into the SQL again at every execution.
_NEAR = select(Event.id, Event.lon, Event.lat).where(
    Event.category_code == bindparam("category_code"),
    Event.reporter_id != bindparam("reporter_id"),
    Event.state != EventState.merged.value, Event.state != EventState.rejected.value,
    Event.lon.between(bindparam("lon0"), bindparam("lon1")),
    Event.lat.between(bindparam("lat0"), bindparam("lat1")),
    Event.reported_at.between(bindparam("t0"), bindparam("t1")),
)


def find_candidate(*, db_session: Session, event: Event, metres: float = DUPLICATE_METRES,
                   hours: float = DUPLICATE_HOURS) -> int | None:
    """Id of the nearest open event that looks like the same incident, or None."""
    dlat = metres / _METRES_PER_DEGREE
    dlon = metres / (_METRES_PER_DEGREE * max(math.cos(math.radians(event.lat)), 0.01))
    window = timedelta(hours=hours)
    best: tuple[float, int] | None = None
    for eid, lon, lat in db_session.execute(_NEAR, {
        "category_code": event.category_code, "reporter_id": event.reporter_id,
        "lon0": event.lon - dlon, "lon1": event.lon + dlon, "lat0": event.lat - dlat, "lat1": event.lat + dlat,
        "t0": event.reported_at - window, "t1": event.reported_at + window,
    }):
        _, _, dist = _GEOD.inv(event.lon, event.lat, lon, lat)
        if dist <= metres and (best is None or (dist, eid) < best):
            best = (dist, eid)
    return best[1] if best else None
