"""Working-time arithmetic for event time limits (时限).

Kept free of the database and the web layer so that every time-limit rule can be tested
exhaustively and reproduced exactly when a due time is disputed.

Rules:
- Working time is the work periods (default 08:30–12:00 and 14:00–17:30) of working days,
  read on the wall clock of the calendar's timezone (default Asia/Shanghai, which has no
  DST; for zones with DST, periods crossing a transition are not supported).
- A working day is a day that is not a weekend day and not a public holiday (法定节假日),
  or a weekend day listed as an adjusted working day (调休上班).
- ``add_working_hours`` starting outside working time starts counting at the next period
  start; 0 hours therefore means "the next working moment" (the start itself when it is
  inside working time). A due time that lands exactly on a period end stays there
  (3.5 h from 08:30 is 12:00 the same day, not 14:00).
- "N working days" follows the usual administrative rule that the day of start is not
  counted (自受理之日起, 开始的当日不计入): the step is due at the end of the last work period
  of the Nth working day after the local date of start.
- Calendar hours/days are plain elapsed time: they ignore nights, weekends and holidays.

Maintenance: the calendar file (``holidays_cn.json``, or the one ``GRIDOPS_HOLIDAY_CALENDAR``
names) must be updated every year when the State Council (国务院办公厅) publishes the next
year's holiday schedule (usually October–November): add the holidays, the make-up workdays
and the year to "years" (README: Time limits). Dates in years the file does not cover are
computed with weekends only; the calendar logs a warning once per uncovered year, and
``calendar_warnings`` names a missing current year, and from 1 November a missing next year,
for start-up, ``/health`` and ``gridops events calendar check``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DEFAULT_CALENDAR_PATH = Path(__file__).with_name("holidays_cn.json")
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12)), (time(14), time(17, 30)))
MAX_HOLIDAY_RANGE_DAYS = 31  # a longer range is almost certainly a typo (e.g. month swapped)

_US = 1_000_000  # all arithmetic is done in integer microseconds so results are exact
_ONE_DAY = timedelta(days=1)


def _us_of(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _require_aware(dt: datetime, what: str) -> None:
    if not isinstance(dt, datetime):
        raise ValueError(f"{what} must be a datetime, got {dt!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({dt.isoformat()}); pass a timezone-aware datetime")


def _require_amount(value: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class WorkCalendar:
    """Which moments count as working time; immutable so it can be cached and shared."""

    timezone: str = "Asia/Shanghai"
    work_periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): Monday = 0
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    covered_years: frozenset[int] | None = None  # None: no holiday data claimed, never warn
    names: Mapping[date, str] = field(default_factory=dict, compare=False, repr=False)
    _warned: set[int] = field(default_factory=set, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        periods = tuple(sorted((tuple(p) for p in self.work_periods), key=lambda p: p[0]))
        _validate_periods(periods)
        weekend = frozenset(self.weekend)
        if not weekend <= set(range(7)) or len(weekend) == 7:
            raise ValueError(f"weekend must be weekday numbers 0-6 (Monday=0), not all seven: {sorted(weekend)}")
        holidays, workdays = frozenset(self.holidays), frozenset(self.workdays)
        _validate_days(holidays, workdays, weekend)
        for name, value in (("work_periods", periods), ("weekend", weekend), ("holidays", holidays),
                            ("workdays", workdays), ("names", MappingProxyType(dict(self.names)))):
            object.__setattr__(self, name, value)
        if self.covered_years is not None:
            object.__setattr__(self, "covered_years", frozenset(self.covered_years))
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_spans", tuple((_us_of(s), _us_of(e)) for s, e in periods))
        object.__setattr__(self, "_day_us", sum(_us_of(e) - _us_of(s) for s, e in periods))

    # -- days ------------------------------------------------------------------------

    def covers(self, d: date) -> bool:
        """False when the holiday data says nothing about d's year (results may be wrong)."""
        return self.covered_years is None or d.year in self.covered_years

    def is_working_day(self, d: date) -> bool:
        if not self.covers(d) and d.year not in self._warned:
            self._warned.add(d.year)
            covered = ", ".join(map(str, sorted(self.covered_years or ()))) or "none"
            log.warning("holiday calendar does not cover %d (covered: %s); treating %d as weekends-only "
                        "- update the calendar (GRIDOPS_HOLIDAY_CALENDAR, default server/events/holidays_cn.json) "
                        "with the State Council schedule", d.year, covered, d.year)
        if d in self.workdays:
            return True
        return d not in self.holidays and d.weekday() not in self.weekend

    def day_name(self, d: date) -> str | None:
        """The holiday or make-up day name (e.g. 春节) for display next to a due time."""
        return self.names.get(d)

    @property
    def working_seconds_per_day(self) -> float:
        return self._day_us / _US

    # -- moments ---------------------------------------------------------------------

    def _local(self, dt: datetime, what: str) -> tuple[date, int]:
        _require_aware(dt, what)
        loc = dt.astimezone(self._tz)
        return loc.date(), _us_of(loc.time())

    def _utc(self, day: date, us: int) -> datetime:
        wall = datetime.combine(day, time()) + timedelta(microseconds=us)
        return wall.replace(tzinfo=self._tz).astimezone(UTC)

    def _worked_until(self, day: date, us: int) -> int:
        """Working microseconds on day between midnight and us."""
        if not self.is_working_day(day):
            return 0
        return sum(max(0, min(us, e) - s) for s, e in self._spans)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after start, as an aware UTC datetime."""
        _require_amount(hours, "hours")
        remaining = round(hours * 3600 * _US)
        day, now = self._local(start, "start")
        while True:
            if self.is_working_day(day):
                if now == 0 and remaining > self._day_us:
                    remaining -= self._day_us  # whole day skipped arithmetically
                else:
                    for s, e in self._spans:
                        if now >= e:
                            continue
                        begin = max(now, s)
                        if remaining <= e - begin:
                            return self._utc(day, begin + remaining)
                        remaining -= e - begin
            day, now = day + _ONE_DAY, 0

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Elapsed working time; negative (antisymmetric) when end is before start.

        Negative rather than an error so time-limit reports can show "overdue by" with the same call.
        """
        d0, t0 = self._local(start, "start")
        d1, t1 = self._local(end, "end")
        if end < start:
            return -self.working_seconds_between(end, start)
        if d0 == d1:
            return (self._worked_until(d1, t1) - self._worked_until(d0, t0)) / _US
        total = self._worked_until(d0, 86_400 * _US) - self._worked_until(d0, t0) + self._worked_until(d1, t1)
        day = d0 + _ONE_DAY
        while day < d1:
            if self.is_working_day(day):
                total += self._day_us
            day += _ONE_DAY
        return total / _US

    def end_of_working_day_after(self, start: datetime, days: int) -> datetime:
        """End of the last work period of the `days`-th working day after start's local date.

        The day of start never counts (开始的当日不计入), whatever the time of day.
        """
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a whole number >= 1, got {days!r}")
        day, _ = self._local(start, "start")
        while days:
            day += _ONE_DAY
            if self.is_working_day(day):
                days -= 1
        return self._utc(day, self._spans[-1][1])


def add_calendar_days(start: datetime, days: float) -> datetime:
    """Plain elapsed time (days × 24 h) in UTC: calendar-day limits ignore holidays and nights."""
    _require_amount(days, "days")
    return _add_elapsed(start, timedelta(days=days))


def _add_elapsed(start: datetime, delta: timedelta) -> datetime:
    _require_aware(start, "start")
    return start.astimezone(UTC) + delta  # in UTC, so DST zones get elapsed, not wall-clock, time


def _validate_periods(periods: tuple[tuple[time, time], ...]) -> None:
    if not periods:
        raise ValueError("work_periods is empty: there would be no working time at all")
    for p in periods:
        if len(p) != 2 or not all(isinstance(t, time) and t.tzinfo is None for t in p):
            raise ValueError(f"work period {p!r} must be a pair of naive times")
        if p[0] >= p[1]:
            raise ValueError(f"work period {p[0]:%H:%M}-{p[1]:%H:%M} is inverted or empty (start must be before end)")
    for (s1, e1), (s2, e2) in zip(periods, periods[1:]):
        if s2 < e1:
            raise ValueError(f"work periods {s1:%H:%M}-{e1:%H:%M} and {s2:%H:%M}-{e2:%H:%M} overlap")


def _validate_days(holidays: frozenset[date], workdays: frozenset[date], weekend: frozenset[int]) -> None:
    both = sorted(holidays & workdays)
    if both:
        raise ValueError(f"{both[0].isoformat()} is listed both as a holiday and as a workday")
    weekdays = sorted(d for d in workdays if d.weekday() not in weekend)
    if weekdays:
        raise ValueError(f"workday {weekdays[0].isoformat()} ({weekdays[0]:%A}) is not a weekend day; "
                         "only make-up days on weekends (调休上班) belong in 'workdays'")


# -- calendar file -------------------------------------------------------------------

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}(:\d{2})?")
_TOP_KEYS = {"timezone", "work_periods", "holidays", "workdays", "years", "source", "note"}


def load_calendar(path: Path | None = None) -> WorkCalendar:
    """Read a holiday calendar file (default: the shipped holidays_cn.json), strictly validated."""
    path = DEFAULT_CALENDAR_PATH if path is None else Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    try:
        return _calendar_from_json(raw)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@lru_cache(maxsize=8)
def calendar_at(path: str | None) -> WorkCalendar:
    """The calendar file at path (None: the shipped one), read once per process and path: it is read-only."""
    return load_calendar(None if path is None else Path(path))


def _calendar_from_json(raw: Any) -> WorkCalendar:
    if not isinstance(raw, dict):
        raise ValueError("the calendar must be a JSON object")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    for key in ("source", "note"):
        if key in raw and not isinstance(raw[key], str):
            raise ValueError(f"{key!r} must be a string")
    holidays = _parse_days(raw.get("holidays", []), "holidays", ranges=True)
    workdays = _parse_days(raw.get("workdays", []), "workdays", ranges=False)
    years = raw.get("years")
    if years is None:
        covered = {d.year for d in (*holidays, *workdays)}
    elif isinstance(years, list) and all(type(y) is int and 1900 <= y <= 2200 for y in years):
        covered = set(years)
    else:
        raise ValueError(f"'years' must be a list of years such as [2025, 2026], got {years!r}")
    timezone = raw.get("timezone", "Asia/Shanghai")
    if not isinstance(timezone, str):
        raise ValueError(f"'timezone' must be a string, got {timezone!r}")
    periods = _parse_periods(raw["work_periods"]) if "work_periods" in raw else DEFAULT_PERIODS
    names = {d: n for d, n in {**holidays, **workdays}.items() if n}
    return WorkCalendar(timezone=timezone, work_periods=periods, holidays=frozenset(holidays),
                        workdays=frozenset(workdays), covered_years=frozenset(covered), names=names)


def _parse_periods(raw: Any) -> tuple[tuple[time, time], ...]:
    if not isinstance(raw, list):
        raise ValueError(f"'work_periods' must be a list of [start, end] pairs, got {raw!r}")
    periods = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise ValueError(f"work period {entry!r} must be a [start, end] pair like [\"08:30\", \"12:00\"]")
        periods.append((_parse_time(entry[0], entry), _parse_time(entry[1], entry)))
    return tuple(periods)


def _parse_time(text: Any, entry: Any) -> time:
    if isinstance(text, str) and _TIME_RE.fullmatch(text):
        try:
            return time.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"bad time {text!r} in work period {entry!r}: expected HH:MM")


def _parse_date(text: Any, entry: Any) -> date:
    if isinstance(text, str) and _DATE_RE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"bad date {text!r} in entry {entry!r}: expected YYYY-MM-DD")


def _parse_days(raw: Any, key: str, *, ranges: bool) -> dict[date, str | None]:
    if not isinstance(raw, list):
        raise ValueError(f"{key!r} must be a list, got {raw!r}")
    out: dict[date, str | None] = {}
    for entry in raw:
        for d in _expand_entry(entry, key, ranges=ranges):
            if d in out:
                raise ValueError(f"{key}: {d.isoformat()} is listed twice (entry {entry!r})")
            out[d] = entry.get("name") if isinstance(entry, dict) else None
    return out


def _expand_entry(entry: Any, key: str, *, ranges: bool) -> list[date]:
    """A day entry is "YYYY-MM-DD", {"date", "name"?} or, for holidays, {"from", "to", "name"?}."""
    if isinstance(entry, str):
        return [_parse_date(entry, entry)]
    allowed = ({"date"}, {"from", "to"}) if ranges else ({"date"},)
    if not isinstance(entry, dict) or not any(set(entry) - {"name"} == a for a in allowed):
        shapes = '"YYYY-MM-DD", {"date": ..., "name": ...}' + (' or {"from": ..., "to": ..., "name": ...}'
                                                                  if ranges else "")
        raise ValueError(f"bad {key} entry {entry!r}: expected {shapes}")
    if "name" in entry and not (isinstance(entry["name"], str) and entry["name"].strip()):
        raise ValueError(f"bad name in {key} entry {entry!r}: must be a non-empty string")
    if "date" in entry:
        return [_parse_date(entry["date"], entry)]
    first, last = _parse_date(entry["from"], entry), _parse_date(entry["to"], entry)
    if first > last:
        raise ValueError(f"holiday range {entry!r} is inverted ('from' is after 'to')")
    count = (last - first).days + 1
    if count > MAX_HOLIDAY_RANGE_DAYS:
        raise ValueError(f"holiday range {entry!r} spans {count} days (max {MAX_HOLIDAY_RANGE_DAYS}); typo?")
    return [first + timedelta(days=i) for i in range(count)]


# -- is the calendar still good? --------------------------------------------------------------

NEXT_YEAR_DUE = (11, 1)  # (month, day): from then on next year's schedule should be in the file


@dataclass(frozen=True)
class CalendarWarning:
    """A year the working-day time limits need and the calendar lacks; `code` is stable (/health)."""

    code: str
    year: int
    message_en: str
    message_zh: str


def calendar_warnings(calendar: WorkCalendar, now: datetime) -> list[CalendarWarning]:
    """The current year missing (time limits already count weekends only), and from 1 November next year.

    The State Council publishes next year's schedule in October or November; a step due from
    late December already reaches into January.
    """
    _require_aware(now, "now")
    today = now.astimezone(ZoneInfo(calendar.timezone)).date()
    found = []
    if not calendar.covers(today):
        found.append(CalendarWarning(
            "holiday_calendar_year_missing", today.year,
            f"the holiday calendar has no {today.year}: working-day time limits count weekends only; add "
            f"{today.year} from the State Council notice (README: Time limits)",
            f"节假日日历缺少 {today.year} 年：工作日时限只扣除周末；请按国务院办公厅通知补录 {today.year} 年（见 README 时限一节）"))
    nxt = today.year + 1
    if (today.month, today.day) >= NEXT_YEAR_DUE and not calendar.covers(date(nxt, 1, 1)):
        found.append(CalendarWarning(
            "holiday_calendar_next_year_missing", nxt,
            f"the holiday calendar has no {nxt} yet: from 1 January working-day time limits count weekends only; "
            f"add {nxt} once the State Council notice is out (README: Time limits)",
            f"节假日日历尚未录入 {nxt} 年：自 1 月 1 日起工作日时限将只扣除周末；国务院办公厅通知发布后请补录 {nxt} 年（见 README 时限一节）"))
    return found


# -- time limits -----------------------------------------------------------------------

Unit = Literal["working_hours", "working_days", "calendar_hours", "calendar_days"]
_UNITS: tuple[str, ...] = get_args(Unit)
_SUFFIXES: dict[str, Unit] = {"wh": "working_hours", "wd": "working_days", "h": "calendar_hours", "d": "calendar_days"}
_LIMIT_RE = re.compile(r"(\d+(?:\.\d+)?)(wh|wd|h|d)")


@dataclass(frozen=True)
class TimeLimit:
    """A configured time limit (时限) such as "8wh"; the one thing the event flow asks when a step is due."""

    amount: float
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise ValueError(f"unknown time limit unit {self.unit!r}; expected one of {list(_UNITS)}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, (int, float)) \
                or not math.isfinite(self.amount) or self.amount <= 0:
            # zero would make every event overdue on creation: leave the step without a policy instead
            raise ValueError(f"time limit amount must be a finite number > 0, got {self.amount!r}")
        if self.unit == "working_days" and self.amount != int(self.amount):
            raise ValueError(f"working days must be a whole number, got {self.amount!r}; use working hours")

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        match = _LIMIT_RE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"invalid time limit {text!r}: expected <number><unit> with unit wh (working hours), "
                             "wd (working days), h (calendar hours) or d (calendar days), e.g. 8wh, 3wd, 24h, 30d")
        amount = float(match[1])
        return cls(int(amount) if amount.is_integer() else amount, _SUFFIXES[match[2]])

    def __str__(self) -> str:
        suffix = next(s for s, u in _SUFFIXES.items() if u == self.unit)
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount}{suffix}"

    def due(self, start: datetime, calendar: WorkCalendar) -> datetime:
        """When something started at `start` is due under this limit (aware UTC)."""
        match self.unit:
            case "working_hours":
                return calendar.add_working_hours(start, self.amount)
            case "working_days":
                return calendar.end_of_working_day_after(start, int(self.amount))
            case "calendar_hours":
                return _add_elapsed(start, timedelta(hours=self.amount))
            case _:
                return add_calendar_days(start, self.amount)
