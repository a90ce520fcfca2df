"""Device online rates (在线率) as indicators: time-weighted availability over the period.

The arithmetic and its exclusions (maintenance windows, time before installation or after
retirement) are the devices domain's; here the per-grid figures are summed over the scope, so
any level (district, street, community, grid) is served by one query.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from devices.availability import availability as device_availability
from server.devices.rates import NO_GRID, load, online_rate
from server.devices.schemas import GroupBy, RateMode
from server.devices.service import DeviceFilter
from server.indicators.periods import Period, Scope
from server.indicators.results import Ratio


def availability(db_session: Session, scope: Scope, period: Period, now: datetime, kind: DeviceKind) -> Ratio:
    """Online seconds / expected seconds of the scope's devices of one kind; no devices → no data."""
    if period.start >= now:
        return Ratio(0.0, 0.0)
    rates = online_rate(db_session=db_session, user=None, flt=DeviceFilter(kind=kind), mode=RateMode.availability,
                        group_by=GroupBy.grid, start=period.start, end=min(period.end, now))
    rows = [g for g in rates.groups
            if g.key.startswith(scope.prefix) or (g.key == NO_GRID and scope.level == "district")]
    return Ratio(sum(g.numerator for g in rows), sum(g.denominator for g in rows))


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
