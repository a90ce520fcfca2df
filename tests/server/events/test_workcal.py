"""Working-time arithmetic: exact due times against hand-checked tables and a brute-force oracle."""

from __future__ import annotations

import json
import logging
import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.events.workcal import (
    DEFAULT_CALENDAR_PATH,
    TimeLimit,
    WorkCalendar,
    add_calendar_days,
    load_calendar,
)

SH = ZoneInfo("Asia/Shanghai")


def L(text: str) -> datetime:
    """A Shanghai wall-clock moment, 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar()


# -- shipped calendar ----------------------------------------------------------------


def test_shipped_calendar_matches_state_council_schedules(cal: WorkCalendar) -> None:
    by_year = {y: sorted(d for d in cal.holidays if d.year == y) for y in (2025, 2026)}
    assert len(by_year[2025]) == 1 + 8 + 3 + 5 + 3 + 8
    assert len(by_year[2026]) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert sorted(d.isoformat() for d in cal.workdays) == [
        "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    assert cal.day_name(date(2026, 2, 17)) == "春节"
    assert cal.day_name(date(2026, 10, 10)) == "国庆节调休上班"
    assert cal.day_name(date(2026, 3, 2)) is None
    assert cal.timezone == "Asia/Shanghai"
    assert cal.working_seconds_per_day == 7 * 3600
    assert cal.covers(date(2025, 1, 1)) and cal.covers(date(2026, 12, 31))
    assert not cal.covers(date(2027, 1, 1)) and not cal.covers(date(2024, 12, 31))


@pytest.mark.parametrize(("day", "working"), [
    ("2026-03-02", True),    # Monday
    ("2026-03-07", False),   # Saturday
    ("2026-03-08", False),   # Sunday
    ("2026-01-01", False),   # 元旦
    ("2026-01-04", True),    # Sunday, make-up day
    ("2026-02-14", True),    # Saturday, make-up day before 春节
    ("2026-02-23", False),   # Monday, last day of 春节
    ("2026-02-24", True),
    ("2026-02-28", True),    # Saturday, make-up day after 春节
    ("2026-10-07", False),
    ("2026-10-08", True),
    ("2026-10-10", True),    # Saturday, make-up day
    ("2026-10-11", False),   # ordinary Sunday
    ("2025-10-08", False),   # 2025 国庆+中秋 ran to Oct 8
    ("2025-10-11", True),
    ("2025-05-05", False),
    ("2025-04-27", True),
])
def test_is_working_day(cal: WorkCalendar, day: str, working: bool) -> None:
    assert cal.is_working_day(date.fromisoformat(day)) is working


# -- add_working_hours -----------------------------------------------------------------


@pytest.mark.parametrize(("start", "hours", "expected"), [
    # within one period
    ("2026-03-02 09:00", 2, "2026-03-02 11:00"),
    ("2026-03-02 14:00", 3.5, "2026-03-02 17:30"),
    # a due time landing on a period end stays there
    ("2026-03-02 08:30", 3.5, "2026-03-02 12:00"),
    ("2026-03-02 08:30", 7, "2026-03-02 17:30"),
    ("2026-03-02 08:30", 14, "2026-03-03 17:30"),
    # crossing lunch
    ("2026-03-02 11:00", 2, "2026-03-02 15:00"),
    ("2026-03-02 11:59", 0.05, "2026-03-02 14:02"),
    # crossing the night
    ("2026-03-02 17:00", 1, "2026-03-03 09:00"),
    ("2026-03-02 22:00", 1, "2026-03-03 09:30"),
    ("2026-03-03 06:00", 1, "2026-03-03 09:30"),
    # Friday afternoon -> Monday
    ("2026-03-06 16:00", 3, "2026-03-09 10:00"),
    # start on Saturday / Sunday
    ("2026-03-07 10:00", 1, "2026-03-09 09:30"),
    ("2026-03-08 10:00", 1, "2026-03-09 09:30"),
    # start during a holiday (国庆 2026)
    ("2026-10-01 10:00", 0, "2026-10-08 08:30"),
    ("2026-10-01 10:00", 1, "2026-10-08 09:30"),
    ("2026-09-30 17:00", 1, "2026-10-08 09:00"),
    # make-up Saturday 2026-10-10 counts, the Sunday after does not
    ("2026-10-09 17:00", 1, "2026-10-10 09:00"),
    ("2026-10-10 10:00", 1, "2026-10-10 11:00"),
    ("2026-10-10 17:00", 1, "2026-10-12 09:00"),
    # make-up Sunday 2026-09-20, then 中秋 Sep 25-27
    ("2026-09-19 10:00", 1, "2026-09-20 09:30"),
    ("2026-09-24 17:00", 1, "2026-09-28 09:00"),
    # Spring Festival 2026: make-up Sat Feb 14, holiday Feb 15-23, make-up Sat Feb 28
    ("2026-02-13 16:30", 2, "2026-02-14 09:30"),
    ("2026-02-14 17:00", 1, "2026-02-24 09:00"),
    ("2026-02-15 00:00", 7 * 5 + 1, "2026-03-02 09:30"),  # 24,25,26,27,28 are five working days
    # 2025 schedule
    ("2025-04-26 10:00", 1, "2025-04-27 09:30"),
    ("2025-09-30 17:00", 1, "2025-10-09 09:00"),
    ("2025-01-27 17:00", 1, "2025-02-05 09:00"),
    # New Year 2026 from the 2025 side: Jan 1-3 off, make-up Sunday Jan 4
    ("2025-12-31 17:00", 1, "2026-01-04 09:00"),
    # fractional hours, exact to the second
    ("2026-03-02 09:00", 0.25, "2026-03-02 09:15"),
    ("2026-03-02 09:00", 0.1, "2026-03-02 09:06"),
    ("2026-03-02 09:00", 1 / 3600, "2026-03-02 09:00:01"),
    ("2026-03-02 11:00", 1.75, "2026-03-02 14:45"),
    ("2026-03-02 11:59:30", 1 / 60, "2026-03-02 14:00:30"),
    # 0 hours: the start itself inside working time, else the next period start
    ("2026-03-02 09:00", 0, "2026-03-02 09:00"),
    ("2026-03-02 12:30", 0, "2026-03-02 14:00"),
    ("2026-03-02 12:00", 0, "2026-03-02 14:00"),
    ("2026-03-06 18:00", 0, "2026-03-09 08:30"),
    # multi-week
    ("2026-03-02 08:30", 105, "2026-03-20 17:30"),
    ("2026-03-02 09:00", 7 * 10, "2026-03-16 09:00"),
])
def test_add_working_hours(cal: WorkCalendar, start: str, hours: float, expected: str) -> None:
    result = cal.add_working_hours(L(start), hours)
    assert result == L(expected)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(("start", "expected"), [
    (datetime(2026, 3, 2, 1, 0, tzinfo=UTC), datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
    # 20:00 EST on Sunday is 09:00 Monday in Shanghai
    (datetime(2026, 3, 1, 20, 0, tzinfo=ZoneInfo("America/New_York")), datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
    # local date differs from the UTC date: 23:30Z Sep 30 is 07:30 Oct 1 (holiday) in Shanghai
    (datetime(2026, 9, 30, 23, 30, tzinfo=UTC), datetime(2026, 10, 8, 2, 30, tzinfo=UTC)),
    (datetime(2026, 3, 2, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")), datetime(2026, 3, 3, 2, 30, tzinfo=UTC)),
])
def test_inputs_in_other_timezones(cal: WorkCalendar, start: datetime, expected: datetime) -> None:
    result = cal.add_working_hours(start, 2)
    assert result == expected and result.tzinfo is UTC and result.utcoffset() == timedelta(0)


@pytest.mark.parametrize("call", [
    lambda c: c.add_working_hours(datetime(2026, 3, 2, 9), 1),
    lambda c: c.working_seconds_between(datetime(2026, 3, 2, 9), L("2026-03-02 10:00")),
    lambda c: c.working_seconds_between(L("2026-03-02 10:00"), datetime(2026, 3, 2, 9)),
    lambda c: c.end_of_working_day_after(datetime(2026, 3, 2, 9), 1),
    lambda c: add_calendar_days(datetime(2026, 3, 2, 9), 1),
    lambda c: TimeLimit.parse("8wh").due(datetime(2026, 3, 2, 9), c),
    lambda c: TimeLimit.parse("24h").due(datetime(2026, 3, 2, 9), c),
])
def test_naive_datetime_rejected(cal: WorkCalendar, call) -> None:
    with pytest.raises(ValueError, match="naive"):
        call(cal)


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf"), True, "2"])
def test_bad_hours_rejected(cal: WorkCalendar, hours) -> None:
    with pytest.raises(ValueError, match="hours"):
        cal.add_working_hours(L("2026-03-02 09:00"), hours)


def test_ten_thousand_hours_is_fast(cal: WorkCalendar, caplog: pytest.LogCaptureFixture) -> None:
    start = L("2026-03-02 09:00")
    t0 = clock.perf_counter()
    end = cal.add_working_hours(start, 10_000)
    assert clock.perf_counter() - t0 < 0.5
    assert cal.working_seconds_between(start, end) == 10_000 * 3600


# -- brute-force oracle ----------------------------------------------------------------

ORACLE_FROM = date(2025, 1, 1)
ORACLE_DAYS = 730  # 2025 and 2026, the years the shipped file covers
PERIOD_MINUTES = [(8 * 60 + 30, 12 * 60), (14 * 60, 17 * 60 + 30)]


@pytest.fixture(scope="module")
def minute_flags(cal: WorkCalendar) -> list[bool]:
    """One flag per Shanghai minute of 2025-2026, built independently of the module's logic."""
    flags: list[bool] = []
    for i in range(ORACLE_DAYS):
        d = ORACLE_FROM + timedelta(days=i)
        working = d in cal.workdays or (d not in cal.holidays and d.isoweekday() <= 5)
        flags.extend(working and any(s <= m < e for s, e in PERIOD_MINUTES) for m in range(1440))
    return flags


def _minute_index(dt: datetime) -> int:
    loc = dt.astimezone(SH)
    return (loc.date() - ORACLE_FROM).days * 1440 + loc.hour * 60 + loc.minute


def _moment(index: int) -> datetime:
    return datetime.combine(ORACLE_FROM, time(), SH) + timedelta(minutes=index)


def _oracle_add(flags: list[bool], start: int, minutes: int) -> int:
    """Walk minute by minute; the result is the end of the minute that completes the count."""
    i = start
    if minutes == 0:
        while not flags[i]:
            i += 1
        return i
    while True:
        if flags[i]:
            minutes -= 1
            if minutes == 0:
                return i + 1
        i += 1


def _random_cases(n: int, seed: int) -> list[tuple[datetime, int]]:
    rng = random.Random(seed)
    last_start = (ORACLE_DAYS - 40) * 1440  # leave room for the span inside the covered years
    zones = [UTC, SH, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
    return [(_moment(rng.randrange(last_start)).astimezone(rng.choice(zones)), rng.randrange(0, 21 * 7 * 60))
            for _ in range(n)]


def test_add_working_hours_matches_minute_oracle(cal: WorkCalendar, minute_flags: list[bool]) -> None:
    for start, minutes in _random_cases(300, seed=20260101):
        expected = _moment(_oracle_add(minute_flags, _minute_index(start), minutes))
        assert cal.add_working_hours(start, minutes / 60) == expected, (start, minutes)


def test_working_seconds_between_matches_minute_oracle(cal: WorkCalendar, minute_flags: list[bool]) -> None:
    rng = random.Random(7)
    for start, _ in _random_cases(300, seed=99):
        end = start + timedelta(minutes=rng.randrange(0, 40 * 1440))
        i, j = _minute_index(start), _minute_index(end)
        assert cal.working_seconds_between(start, end) == sum(minute_flags[i:j]) * 60, (start, end)


# -- working_seconds_between -------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "hours"), [
    ("2026-03-02 09:00", "2026-03-02 11:00", 2),
    ("2026-03-02 11:00", "2026-03-02 15:00", 2),
    ("2026-03-02 12:10", "2026-03-02 13:50", 0),
    ("2026-03-06 16:00", "2026-03-09 10:00", 3),
    ("2026-03-02 00:00", "2026-03-09 00:00", 35),
    ("2026-09-30 17:00", "2026-10-08 09:00", 1),
    ("2026-10-09 00:00", "2026-10-12 00:00", 14),  # Friday + make-up Saturday
    ("2026-02-14 00:00", "2026-02-25 00:00", 14),  # make-up Saturday + Feb 24
    ("2026-03-02 09:00", "2026-03-02 09:00", 0),
    ("2026-03-02 09:00:00", "2026-03-02 09:00:01.5", 1.5 / 3600),
])
def test_working_seconds_between(cal: WorkCalendar, start: str, end: str, hours: float) -> None:
    assert cal.working_seconds_between(L(start), L(end)) == pytest.approx(hours * 3600, abs=1e-6)


def test_working_seconds_between_is_negative_when_reversed(cal: WorkCalendar) -> None:
    a, b = L("2026-03-06 16:00"), L("2026-03-09 10:00")
    assert cal.working_seconds_between(b, a) == -3 * 3600
    assert cal.working_seconds_between(b.astimezone(UTC), a) == -3 * 3600


def test_add_then_measure_is_identity(cal: WorkCalendar) -> None:
    rng = random.Random(42)
    for _ in range(300):
        start = L("2025-01-01 00:00") + timedelta(seconds=rng.randrange(0, 650 * 86400))
        hours = rng.uniform(0, 150)
        end = cal.add_working_hours(start, hours)
        assert cal.working_seconds_between(start, end) == pytest.approx(hours * 3600, abs=1e-6)


# -- working days / calendar days ------------------------------------------------------------


@pytest.mark.parametrize(("start", "days", "expected"), [
    ("2026-03-02 10:00", 3, "2026-03-05 17:30"),    # day of start not counted
    ("2026-03-02 07:00", 1, "2026-03-03 17:30"),    # even before work starts
    ("2026-03-06 18:00", 1, "2026-03-09 17:30"),
    ("2026-03-08 10:00", 1, "2026-03-09 17:30"),    # from Sunday
    ("2026-02-13 10:00", 1, "2026-02-14 17:30"),    # make-up Saturday counts
    ("2026-02-14 10:00", 1, "2026-02-24 17:30"),
    ("2026-09-30 10:00", 1, "2026-10-08 17:30"),
    ("2026-10-01 10:00", 2, "2026-10-09 17:30"),
])
def test_end_of_working_day_after(cal: WorkCalendar, start: str, days: int, expected: str) -> None:
    result = cal.end_of_working_day_after(L(start), days)
    assert result == L(expected) and result.tzinfo is UTC


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_end_of_working_day_after_rejects_bad_days(cal: WorkCalendar, days) -> None:
    with pytest.raises(ValueError, match="days"):
        cal.end_of_working_day_after(L("2026-03-02 10:00"), days)


@pytest.mark.parametrize(("start", "days", "expected"), [
    ("2026-10-01 10:00", 30, "2026-10-31 10:00"),   # holidays are ignored
    ("2026-03-06 18:00", 1, "2026-03-07 18:00"),    # weekends too
    ("2026-03-02 10:00", 0.5, "2026-03-02 22:00"),
    ("2026-03-02 10:00", 0, "2026-03-02 10:00"),
])
def test_add_calendar_days(start: str, days: float, expected: str) -> None:
    result = add_calendar_days(L(start), days)
    assert result == L(expected) and result.tzinfo is UTC


def test_add_calendar_days_is_elapsed_time_across_dst() -> None:
    # US DST started 2026-03-08: one calendar day is 24 elapsed hours, not the same wall-clock time
    start = datetime(2026, 3, 7, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    assert add_calendar_days(start, 1) == start.astimezone(UTC) + timedelta(hours=24)
    assert add_calendar_days(start, 1).astimezone(start.tzinfo).hour == 13


@pytest.mark.parametrize("days", [-1, float("nan")])
def test_add_calendar_days_rejects_bad_days(days: float) -> None:
    with pytest.raises(ValueError, match="days"):
        add_calendar_days(L("2026-03-02 10:00"), days)


# -- TimeLimit -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "amount", "unit"), [
    ("8wh", 8, "working_hours"),
    ("0.5wh", 0.5, "working_hours"),
    ("3wd", 3, "working_days"),
    ("24h", 24, "calendar_hours"),
    ("1.5h", 1.5, "calendar_hours"),
    ("30d", 30, "calendar_days"),
    (" 2wh ", 2, "working_hours"),
    ("3.0wd", 3, "working_days"),
])
def test_time_limit_parse(text: str, amount: float, unit: str) -> None:
    limit = TimeLimit.parse(text)
    assert (limit.amount, limit.unit) == (amount, unit)
    assert TimeLimit.parse(str(limit)) == limit


@pytest.mark.parametrize(("text", "message"), [
    ("", "invalid time limit"),
    ("8", "invalid time limit"),
    ("wh", "invalid time limit"),
    ("8 wh", "invalid time limit"),
    ("8WH", "invalid time limit"),
    ("8w", "invalid time limit"),
    ("8m", "invalid time limit"),
    ("-1d", "invalid time limit"),
    ("1e3h", "invalid time limit"),
    (".5h", "invalid time limit"),
    ("8wh8", "invalid time limit"),
    (None, "invalid time limit"),
    ("0wh", "> 0"),
    ("0d", "> 0"),
    ("1.5wd", "whole number"),
])
def test_time_limit_parse_rejects(text, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeLimit.parse(text)


def test_time_limit_constructor_validates() -> None:
    with pytest.raises(ValueError, match="unit"):
        TimeLimit(3, "weeks")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="> 0"):
        TimeLimit(float("inf"), "calendar_days")


@pytest.mark.parametrize(("limit", "start", "expected"), [
    ("2wh", "2026-03-06 16:00", "2026-03-09 09:00"),
    ("8wh", "2026-09-30 17:00", "2026-10-09 09:00"),
    ("3wd", "2026-03-02 10:00", "2026-03-05 17:30"),
    ("1wd", "2026-02-13 10:00", "2026-02-14 17:30"),
    ("24h", "2026-10-01 10:00", "2026-10-02 10:00"),
    ("1.5h", "2026-03-06 17:00", "2026-03-06 18:30"),
    ("30d", "2026-10-01 10:00", "2026-10-31 10:00"),
])
def test_time_limit_due(cal: WorkCalendar, limit: str, start: str, expected: str) -> None:
    result = TimeLimit.parse(limit).due(L(start), cal)
    assert result == L(expected) and result.tzinfo is UTC


# -- coverage warning ------------------------------------------------------------------------


def test_coverage_warning_logged_once_per_year(caplog: pytest.LogCaptureFixture) -> None:
    cal = load_calendar()  # fresh instance: warnings are remembered per calendar
    with caplog.at_level(logging.WARNING, logger="server.events.workcal"):
        cal.add_working_hours(L("2026-03-02 09:00"), 100)
        assert caplog.records == []
        assert cal.is_working_day(date(2030, 5, 1)) is True  # weekends-only outside coverage
        cal.add_working_hours(L("2030-05-06 09:00"), 30)
        cal.working_seconds_between(L("2030-01-01 00:00"), L("2030-03-01 00:00"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2030" in warnings[0].getMessage() and "holidays_cn.json" in warnings[0].getMessage()


def test_no_coverage_warning_without_holiday_data(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar()  # weekends only, claims nothing: nothing to be stale about
    with caplog.at_level(logging.WARNING):
        assert cal.covers(date(2030, 1, 1))
        assert cal.add_working_hours(L("2030-01-04 17:00"), 1) == L("2030-01-07 09:00")
    assert caplog.records == []


# -- constructing and loading calendars ------------------------------------------------------


def test_custom_calendar() -> None:
    cal = WorkCalendar(timezone="Europe/Berlin", work_periods=[(time(9), time(17))], weekend={6},
                       holidays={date(2026, 3, 3)})
    berlin = ZoneInfo("Europe/Berlin")
    assert cal.working_seconds_per_day == 8 * 3600
    assert cal.add_working_hours(datetime(2026, 3, 2, 16, tzinfo=berlin), 2) == \
        datetime(2026, 3, 4, 10, tzinfo=berlin)  # Tuesday is a holiday
    assert cal.add_working_hours(datetime(2026, 3, 7, 16, tzinfo=berlin), 2) == \
        datetime(2026, 3, 9, 10, tzinfo=berlin)  # Saturday works, Sunday does not
    assert hash(cal) == hash(WorkCalendar(timezone="Europe/Berlin", work_periods=((time(9), time(17)),),
                                          weekend=frozenset({6}), holidays=frozenset({date(2026, 3, 3)})))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ({"work_periods": []}, "empty"),
    ({"work_periods": [(time(12), time(8, 30))]}, "inverted"),
    ({"work_periods": [(time(8), time(12)), (time(11), time(13))]}, "overlap"),
    ({"weekend": set(range(7))}, "weekend"),
    ({"holidays": {date(2026, 3, 7)}, "workdays": {date(2026, 3, 7)}}, "both"),
    ({"workdays": {date(2026, 3, 4)}}, "not a weekend day"),
])
def test_calendar_constructor_validates(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar(**kwargs)


def _write(tmp_path: Path, content) -> Path:
    path = tmp_path / "calendar.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ([], "must be a JSON object"),
    ({"holiday": []}, r"unknown key\(s\) \['holiday'\]"),
    ({"timezone": "Asia/Shangai"}, "unknown timezone 'Asia/Shangai'"),
    ({"timezone": 8}, "'timezone' must be a string"),
    ({"source": 1}, "'source' must be a string"),
    ({"holidays": ["2026-13-01"]}, "bad date '2026-13-01'"),
    ({"holidays": ["2026/01/01"]}, "bad date '2026/01/01'"),
    ({"holidays": ["20260101"]}, "bad date '20260101'"),
    ({"holidays": [20260101]}, "bad holidays entry 20260101"),
    ({"holidays": [{"date": "2026-02-30", "name": "x"}]}, "bad date '2026-02-30'"),
    ({"holidays": "2026-01-01"}, "'holidays' must be a list"),
    ({"holidays": [{"from": "2026-02-23", "to": "2026-02-15", "name": "春节"}]}, "inverted"),
    ({"holidays": [{"from": "2026-02-15", "to": "2026-12-23", "name": "春节"}]}, "spans 312 days"),
    ({"holidays": [{"from": "2026-02-15", "name": "春节"}]}, "bad holidays entry"),
    ({"holidays": [{"date": "2026-01-01", "nmae": "元旦"}]}, "bad holidays entry"),
    ({"holidays": [{"date": "2026-01-01", "name": ""}]}, "bad name"),
    ({"holidays": ["2026-01-01", {"from": "2025-12-31", "to": "2026-01-02"}]}, "2026-01-01 is listed twice"),
    ({"workdays": [{"from": "2026-02-14", "to": "2026-02-15"}]}, "bad workdays entry"),
    ({"workdays": ["2026-03-04"]}, "workday 2026-03-04 .*not a weekend day"),
    ({"holidays": [{"from": "2026-02-14", "to": "2026-02-16"}], "workdays": ["2026-02-14"]},
     "2026-02-14 is listed both as a holiday and as a workday"),
    ({"work_periods": [["12:00", "08:30"]]}, "12:00-08:30 is inverted"),
    ({"work_periods": [["08:30", "08:30"]]}, "inverted or empty"),
    ({"work_periods": [["08:30", "12:00"], ["11:30", "17:30"]]}, "08:30-12:00 and 11:30-17:30 overlap"),
    ({"work_periods": [["08:30", "25:00"]]}, "bad time '25:00'"),
    ({"work_periods": [["8:30", "12:00"]]}, "bad time '8:30'"),
    ({"work_periods": [["08:30"]]}, "must be a \\[start, end\\] pair"),
    ({"work_periods": "08:30-12:00"}, "must be a list"),
    ({"work_periods": []}, "empty"),
    ({"years": [2026, "2027"]}, "'years' must be a list"),
    ({"years": 2026}, "'years' must be a list"),
])
def test_bad_calendar_files(tmp_path: Path, content, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ValueError, match=message) as excinfo:
        load_calendar(path)
    assert str(path) in str(excinfo.value)


def test_minimal_calendar_file_defaults(tmp_path: Path) -> None:
    cal = load_calendar(_write(tmp_path, {"holidays": ["2027-01-01"]}))
    assert cal.timezone == "Asia/Shanghai" and cal.work_periods == ((time(8, 30), time(12)), (time(14), time(17, 30)))
    assert cal.covered_years == {2027}  # derived from the listed dates when "years" is absent
    assert not cal.is_working_day(date(2027, 1, 1))


def test_default_path_is_shipped_file() -> None:
    assert DEFAULT_CALENDAR_PATH.name == "holidays_cn.json" and DEFAULT_CALENDAR_PATH.is_file()
    assert load_calendar(DEFAULT_CALENDAR_PATH) == load_calendar()
