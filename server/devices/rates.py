"""Online rate (在线率) per grid, street, district or kind: SQL loads the intervals, the
arithmetic is devices.availability (one definition for the API, exports and tests).

Snapshot: devices online at `at` / devices in service at `at`.
Availability: Σ online time / Σ expected time over [start, end), expected time excluding
maintenance windows and time before installation or after retirement; `end` is cut at now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from devices.availability import DeviceRecord, Rate, RateTable, Span, availability, snapshot
from devices.codes import KIND_LABELS_ZH, DeviceKind
from gis.codes import district_of, street_of
from server.auth.models import User
from server.devices.models import Device, DeviceMaintenance, DeviceStatusInterval
from server.devices.schemas import GroupBy, OnlineRateRead, RateMode, RateRow
from server.devices.scope import DeviceFilter, scoped_query
from server.divisions import service as divisions
from server.errors import InvalidInput
from server.grids.models import Grid

NO_GRID = "none"


def _spans(db_session: Session, model: Any, ids: Any, start: datetime, end: datetime,
           extra: Any = None) -> dict[int, list[Span]]:
    q = select(model.device_id, model.start_at, model.end_at).where(
        model.device_id.in_(ids), model.start_at < end, or_(model.end_at.is_(None), model.end_at > start))
    if extra is not None:
        q = q.where(extra)
    out: dict[int, list[Span]] = defaultdict(list)
    for device_id, a, b in db_session.execute(q):
        out[device_id].append(Span(a, b))
    return out


def load(*, db_session: Session, user: User | None, flt: DeviceFilter, start: datetime, end: datetime
         ) -> list[tuple[Any, DeviceRecord]]:
    """(device row, DeviceRecord) for every device in scope that existed during [start, end)."""
    q = scoped_query(user, replace(flt, include_retired=True), start).where(
        or_(Device.retired_at.is_(None), Device.retired_at > start),
        or_(Device.installed_at.is_(None), Device.installed_at < end))
    ids = q.with_only_columns(Device.id).scalar_subquery()
    rows = db_session.execute(q.with_only_columns(
        Device.id, Device.code, Device.kind, Device.installed_at, Device.retired_at, Grid.code.label("grid_code"),
        Grid.name.label("grid_name"))).all()
    online = _spans(db_session, DeviceStatusInterval, ids, start, end, DeviceStatusInterval.status == "online")
    maintenance = _spans(db_session, DeviceMaintenance, ids, start, end)
    return [(r, DeviceRecord(installed_at=r.installed_at, retired_at=r.retired_at, online=online.get(r.id, ()),
                             maintenance=maintenance.get(r.id, ()))) for r in rows]


def _key(group_by: GroupBy) -> Callable[[Any], str]:
    if group_by is GroupBy.kind:
        return lambda r: r.kind
    if group_by is GroupBy.grid:
        return lambda r: r.grid_code or NO_GRID
    if group_by is GroupBy.street:
        return lambda r: street_of(r.grid_code) if r.grid_code else NO_GRID
    return lambda r: district_of(r.grid_code) if r.grid_code else NO_GRID


def _labels(db_session: Session, group_by: GroupBy, rows: list[Any]) -> dict[str, str]:
    labels = {NO_GRID: "无网格 / outside grids"}
    if group_by is GroupBy.kind:
        labels.update({k.value: KIND_LABELS_ZH[k] for k in DeviceKind})
    elif group_by is GroupBy.grid:
        labels.update({r.grid_code: r.grid_name for r in rows if r.grid_code})
    elif group_by is GroupBy.street:
        labels.update({s.code: s.name for s in divisions.list_streets(db_session=db_session, district_code=None)})
    else:
        for code in {district_of(r.grid_code) for r in rows if r.grid_code}:
            labels[code] = divisions.get_district(db_session=db_session, code=code).name
    return labels


def _row(key: str, label: str, rate: Rate) -> RateRow:
    return RateRow(key=key, label=label, numerator=rate.numerator, denominator=rate.denominator,
                   devices=rate.devices, online_rate=rate.value)


def online_rate(*, db_session: Session, user: User | None, flt: DeviceFilter, mode: RateMode, group_by: GroupBy,
                now: datetime, at: datetime | None = None, start: datetime | None = None, end: datetime | None = None
                ) -> OnlineRateRead:
    """The online rate of the devices in the user's scope, grouped; see the module docstring."""
    if mode is RateMode.snapshot:
        at = min(at or now, now)
        lo, hi = at, at + timedelta(microseconds=1)
    else:
        if start is None:
            raise InvalidInput("availability needs a start", "可用率需要起始时间", code="period_required")
        lo, hi = start, min(end or now, now)
        if hi <= lo:
            raise InvalidInput("the period must end after it starts (and start before now)",
                               "统计期间无效：结束须晚于开始，且开始早于当前时间", code="invalid_period")
    loaded = load(db_session=db_session, user=user, flt=flt, start=lo, end=hi)
    key = _key(group_by)
    grouped: dict[str, list[DeviceRecord]] = defaultdict(list)
    for row, record in loaded:
        grouped[key(row)].append(record)
    table = RateTable()
    for k, records in sorted(grouped.items()):
        table.add(k, snapshot(records, lo) if mode is RateMode.snapshot else availability(records, lo, hi))
    labels = _labels(db_session, group_by, [r for r, _ in loaded])
    return OnlineRateRead(
        mode=mode, group_by=group_by, at=at if mode is RateMode.snapshot else None,
        start=lo if mode is RateMode.availability else None, end=hi if mode is RateMode.availability else None,
        groups=[_row(k, labels.get(k, k), r) for k, r in table.groups.items()],
        total=_row("total", "合计 / total", table.total),
    )
