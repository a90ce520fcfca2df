"""Which devices a user may see (the territory by grid), and the filtered, scoped device query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, or_, select

from devices.codes import DeviceKind
from gis.codes import area_prefix
from server.auth.models import User
from server.database.prefix import prefix_range
from server.devices.models import Device, DeviceState
from server.grids.models import Grid
from server.territory import territory


@dataclass(frozen=True)
class DeviceFilter:
    kind: DeviceKind | None = None
    street_code: str | None = None
    grid_code: str | None = None
    status: str | None = None
    name_contains: str | None = None
    include_retired: bool = False


def visible(user: User | None, at: datetime) -> ColumnElement[bool]:
    return territory(user, at).grids(Device.grid_id)


def scoped_query(user: User | None, flt: DeviceFilter, at: datetime) -> Select:  # type: ignore[type-arg]
    q = select(Device).outerjoin(Grid, Device.grid_id == Grid.id).join(DeviceState).where(visible(user, at))
    if not flt.include_retired:
        q = q.where(or_(Device.retired_at.is_(None), Device.retired_at > at))
    if flt.kind:
        q = q.where(Device.kind == flt.kind.value)
    if flt.street_code:
        q = q.where(prefix_range(Grid.code, area_prefix(flt.street_code)))
    if flt.grid_code:
        q = q.where(Grid.code == flt.grid_code)
    if flt.status:
        q = q.where(DeviceState.status == flt.status)
    if flt.name_contains:
        q = q.where(or_(Device.name.contains(flt.name_contains, autoescape=True),
                        Device.code.contains(flt.name_contains, autoescape=True)))
    return q
