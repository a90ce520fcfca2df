"""The Friday situation report (周报): figures gathered from events and devices for one week.

The week runs Monday 00:00 to the next Monday 00:00, Asia/Shanghai. The layout and charts are the
metrics library's; this module only answers "what happened that week" from the database.
Lists are cut (the busiest grids, the longest overdue, the longest offline); every total is its
own COUNT query, never the length of a cut list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gis.codes import area_prefix
from metrics.weekly_report import DeviceOutage, OverdueEvent, WeekFigures, WeeklySummary
from server.database.prefix import prefix_range
from server.devices.models import Device, DeviceStatusInterval
from server.events import service as events
from server.events.enums import CLOSED_STATES, STATE_LABELS_ZH, TERMINAL, EventState
from server.events.models import Event, EventCategory
from server.grids.models import Grid

TZ = ZoneInfo("Asia/Shanghai")
KIND_ZH = {"camera": "视频监控点位", "access_controller": "门禁", "link": "政法网链路", "terminal": "视联网终端"}
OPEN_STATES = [s.value for s in EventState if s not in TERMINAL and s not in CLOSED_STATES]


def week_of(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def _bounds(week_start: date) -> tuple[datetime, datetime]:
    start = datetime.combine(week_start, time(0), TZ).astimezone(UTC)
    return start, start + timedelta(days=7)


def _in_district(district_code: str):  # type: ignore[no-untyped-def]
    return prefix_range(Event.street_code, area_prefix(district_code))


def _by_category(db_session: Session, district: str, start: datetime, end: datetime) -> dict[str, int]:
    top = func.coalesce(EventCategory.parent_code, EventCategory.code)
    names = dict(db_session.execute(select(EventCategory.code, EventCategory.name)).tuples().all())
    rows = db_session.execute(
        select(top, func.count(Event.id)).join(EventCategory, EventCategory.code == Event.category_code)
        .where(_in_district(district), Event.reported_at >= start, Event.reported_at < end).group_by(top)).all()
    return {names.get(code, code): n for code, n in sorted(rows, key=lambda r: -r[1])}


GRID_LIMIT = 15
OVERDUE_LIMIT = 50
OUTAGE_LIMIT = 100


def _new_in_week(district: str, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    return (_in_district(district), Event.reported_at >= start, Event.reported_at < end)


def _by_grid(db_session: Session, district: str, start: datetime, end: datetime, top: int) -> dict[str, int]:
    rows = db_session.execute(
        select(Grid.code, func.count(Event.id)).join(Grid, Grid.id == Event.grid_id)
        .where(*_new_in_week(district, start, end))
        .group_by(Grid.code).order_by(func.count(Event.id).desc(), Grid.code).limit(top)).all()
    return {code: n for code, n in rows}


def grids_with_events(db_session: Session, district: str, start: datetime, end: datetime) -> int:
    return db_session.scalar(select(func.count(func.distinct(Event.grid_id)))
                             .where(*_new_in_week(district, start, end))) or 0


def _overdue_where(district: str, at: datetime):  # type: ignore[no-untyped-def]
    return (_in_district(district), Event.state.in_(OPEN_STATES), Event.closure_due_at < at, Event.reported_at < at)


def overdue_count(db_session: Session, district: str, at: datetime) -> int:
    return db_session.scalar(select(func.count(Event.id)).where(*_overdue_where(district, at))) or 0


def _overdue(db_session: Session, district: str, at: datetime, limit: int) -> list[OverdueEvent]:
    names = dict(db_session.execute(select(EventCategory.code, EventCategory.name)).tuples().all())
    rows = db_session.execute(
        select(Event, Grid.code).join(Grid, Grid.id == Event.grid_id)
        .where(*_overdue_where(district, at)).order_by(Event.closure_due_at, Event.id).limit(limit)).all()
    return [OverdueEvent(serial=events.shown_serial(e.serial) or e.uuid[:8],
                         category=names.get(e.category_code, e.category_code), grid_code=code,
                         reported_at=e.reported_at, due_at=e.closure_due_at,
                         state=STATE_LABELS_ZH[EventState(e.state)],
                         overdue_hours=round((at - e.closure_due_at).total_seconds() / 3600, 1)) for e, code in rows]


def _outage_query(district: str, at: datetime, *columns):  # type: ignore[no-untyped-def]
    iv = DeviceStatusInterval
    return (select(*columns).select_from(Device).join(iv, iv.device_id == Device.id)
            .join(Grid, Grid.id == Device.grid_id, isouter=True)
            .where(iv.status == "offline", iv.start_at <= at, (iv.end_at.is_(None)) | (iv.end_at > at),
                   (Device.retired_at.is_(None)) | (Device.retired_at > at),
                   or_(Grid.code.is_(None), prefix_range(Grid.code, area_prefix(district)))))


def outage_count(db_session: Session, district: str, at: datetime) -> int:
    return db_session.scalar(_outage_query(district, at, func.count(func.distinct(Device.id)))) or 0


def _outages(db_session: Session, district: str, at: datetime, limit: int) -> list[DeviceOutage]:
    """Devices inside an offline interval at `at` (status intervals, so past weeks work too)."""
    rows = db_session.execute(_outage_query(district, at, Device, DeviceStatusInterval.start_at)
                              .order_by(DeviceStatusInterval.start_at, Device.id).limit(limit)).all()
    return [DeviceOutage(device_code=d.code, kind=KIND_ZH.get(d.kind, d.kind), location=d.address or d.name,
                         offline_since=since, offline_hours=round((at - since).total_seconds() / 3600, 1))
            for d, since in rows]


def _closed(db_session: Session, district: str, start: datetime, end: datetime) -> int:
    return db_session.scalar(select(func.count(Event.id)).where(
        _in_district(district), Event.closed_at >= start, Event.closed_at < end)) or 0


def summary(*, db_session: Session, district_code: str, area: str, week_start: date, now: datetime) -> WeeklySummary:
    start, end = _bounds(week_start)
    at = min(end, now)
    last_start = start - timedelta(days=7)
    by_category = _by_category(db_session, district_code, start, end)
    last_by_category = _by_category(db_session, district_code, last_start, start)
    overdue = _overdue(db_session, district_code, at, OVERDUE_LIMIT)
    outages = _outages(db_session, district_code, at, OUTAGE_LIMIT)
    last = WeekFigures(new_events=sum(last_by_category.values()),
                       closed_events=_closed(db_session, district_code, last_start, start),
                       overdue_events=overdue_count(db_session, district_code, start),
                       device_outages=outage_count(db_session, district_code, start))
    return WeeklySummary(area=area, week_start=week_start, week_end=week_start + timedelta(days=6),
                         events_by_category=by_category,
                         events_by_grid=_by_grid(db_session, district_code, start, end, GRID_LIMIT),
                         overdue=overdue, device_outages=outages,
                         closed_events=_closed(db_session, district_code, start, end), last_week=last,
                         last_week_by_category=last_by_category,
                         grids_with_events=grids_with_events(db_session, district_code, start, end),
                         overdue_total=overdue_count(db_session, district_code, at),
                         outage_total=outage_count(db_session, district_code, at))
