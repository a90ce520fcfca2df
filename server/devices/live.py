"""Devices live on the map: every device's status at once, and each status change after a cursor.

The cursor is the id of `device_status_interval`: one row per status change, inserted only by the
ingester's batch (ingest_batch.write), so a status change that reaches the database reaches the feed.
Ids are handed out at insert time, not commit time: on PostgreSQL a reader of `id > cursor` could
pass a row whose transaction commits after a higher id was read. As for the event feed, every
transaction writing these rows first takes the feed's advisory lock (server/database/feed_order.py:
ingest_batch.write takes it before its Core inserts), so ids become visible in order. SQLite has one
writer at a time, so its ids always commit in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from server.auth.models import User
from server.database.prefix import prefix_range
from server.devices.models import Device, DeviceState, DeviceStatusInterval
from server.devices.schemas import DeviceStatus, DeviceStatusChange
from server.devices.scope import DeviceFilter, scoped_query, visible
from server.grids.models import Grid

ONLINE = "online"
DIGITS = 7  # decimals of a degree on the map: about 1 cm, a quarter less JSON than full doubles


def _lon_lat() -> tuple[Any, Any]:
    """Coordinates read by the database: no geometry is parsed in Python, row by row."""
    return func.ST_X(Device.location).label("lon"), func.ST_Y(Device.location).label("lat")


def last_cursor(db_session: Session) -> int:
    return db_session.scalar(select(func.coalesce(func.max(DeviceStatusInterval.id), 0))) or 0


def feature_collection(*, db_session: Session, user: User, now: datetime, prefix: str | None = None,
                       kind: DeviceKind | None = None) -> dict[str, Any]:
    """Every device in service in the user's territory (inside `prefix`, of `kind`), in one statement
    that also reads the feed's cursor: one snapshot on either back end, so no change falls between.

    Plain dicts in the shape of schemas.DeviceFeatureCollection (the tests check it), serialised by the
    caller: a pydantic model per feature cost over a second for 20,000 devices on this machine."""
    last = select(func.coalesce(func.max(DeviceStatusInterval.id), 0)).scalar_subquery()
    q = scoped_query(user, DeviceFilter(kind=kind), now)
    if prefix:
        q = q.where(prefix_range(Grid.code, prefix))
    rows = db_session.connection().execute(q.with_only_columns(
        Device.code, Device.kind, Device.name, DeviceState.status, Grid.code.label("grid_code"), *_lon_lat(),
        last.label("cursor")).order_by(Device.code)).all()
    features = [{
        "type": "Feature", "id": code,
        "geometry": None if lon is None else {"type": "Point", "coordinates": [round(lon, DIGITS), round(lat, DIGITS)]},
        "properties": {"code": code, "kind": kind_, "name": name, "status": status, "online": status == ONLINE,
                       "grid_code": grid_code},
    } for code, kind_, name, status, grid_code, lon, lat, _ in rows]
    cursor = rows[0].cursor if rows else last_cursor(db_session)
    return {"type": "FeatureCollection", "features": features, "cursor": cursor}


def changes_since(*, db_session: Session, user: User, cursor: int, limit: int, now: datetime
                  ) -> list[DeviceStatusChange]:
    """Status changes after `cursor` of devices in the user's territory, oldest first."""
    iv = DeviceStatusInterval
    q = (select(iv.id, iv.status, iv.start_at, Device.code, Device.kind, Grid.code.label("grid_code"), *_lon_lat())
         .join(Device, Device.id == iv.device_id).outerjoin(Grid, Grid.id == Device.grid_id)
         .where(iv.id > cursor, visible(user, now)).order_by(iv.id).limit(limit))
    return [DeviceStatusChange(cursor=r.id, code=r.code, kind=DeviceKind(r.kind), status=DeviceStatus(r.status),
                               online=r.status == ONLINE, at=r.start_at, lon=r.lon, lat=r.lat,
                               grid_code=r.grid_code) for r in db_session.execute(q)]
