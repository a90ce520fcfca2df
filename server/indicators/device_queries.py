"""Device online rates (在线率) as indicators: time-weighted availability over the period.

The arithmetic and its exclusions (maintenance windows, time before installation or after
retirement) are the devices domain's; here the per-grid figures are summed over the scope, so
any level (district, street, community, grid), and any number of scopes, is served by one load.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from devices.availability import availability as device_availability
from server.devices.schemas import GroupBy, RateMode
from server.devices.service import NO_GRID, DeviceFilter, load, online_rate
from server.indicators.periods import Period, Scope
from server.indicators.results import Ratio, under_each


def availability(db_session: Session, scopes: Sequence[Scope], period: Period, now: datetime,
                 kind: DeviceKind) -> dict[Scope, Ratio]:
    """Online seconds / expected seconds of each scope's devices of one kind; no devices → no data.
    The devices and their intervals are loaded once for all the scopes."""
    if period.start >= now:
        return {sc: Ratio(0.0, 0.0) for sc in scopes}
    rates = online_rate(db_session=db_session, user=None, flt=DeviceFilter(kind=kind), mode=RateMode.availability,
                        group_by=GroupBy.grid, now=now, start=period.start, end=min(period.end, now))
    mine = under_each(scopes, ((g.key, g) for g in rates.groups if g.key != NO_GRID))
    no_grid = [g for g in rates.groups if g.key == NO_GRID]
    out = {}
    for sc in scopes:
        rows = [*mine[sc], *(no_grid if sc.level == "district" else ())]
        out[sc] = Ratio(sum(g.numerator for g in rows), sum(g.denominator for g in rows))
    return out


def offline_devices(db_session: Session, scope: Scope, period: Period, now: datetime, kind: DeviceKind,
                    limit: int) -> list[dict[str, object]]:
    """Devices of the scope below full availability in the period, worst first, with offline hours."""
    end = min(period.end, now)
    if period.start >= end:
        return []
    rows = []
    for row, record in load(db_session=db_session, user=None, flt=DeviceFilter(kind=kind), start=period.start,
                            end=end):
        grid = row.grid_code or NO_GRID
        if not (grid.startswith(scope.prefix) or (grid == NO_GRID and scope.level == "district")):
            continue
        rate = device_availability([record], period.start, end)
        if rate.denominator and rate.numerator < rate.denominator:
            rows.append({"设备编码": row.code, "网格": row.grid_code, "在线率": round(rate.value * 100, 2),
                         "离线小时": round((rate.denominator - rate.numerator) / 3600, 1)})
    return sorted(rows, key=lambda r: (r["在线率"], r["设备编码"]))[:limit]
