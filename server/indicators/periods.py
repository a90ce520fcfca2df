"""Reporting periods and scopes, parsed from the short forms users type.

Periods are local (Asia/Shanghai) calendar spans turned into UTC half-open intervals:
`2026`, `2026-Q3`, `2026-11`, `2026-W47` (ISO week), `2026-01-01..2026-03-31` (inclusive days).
Scopes: `district:440112`, `street:440112001` (9 digits) or `street:440112001000`,
`community:440112001001`, `grid:440112001001001` (parsed by server.areas, re-exported here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.areas import Scope, parse_scope  # noqa: F401  (public here: the indicators' scopes)
from server.errors import InvalidInput
from server.inputs import year_in_range

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    def months(self) -> list[Period]:
        """Calendar months overlapping the period, clipped to it (for per-month indicators)."""
        out, d = [], self.start.astimezone(TZ).date().replace(day=1)
        while _utc(d) < self.end:
            nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            out.append(Period(f"{d:%Y-%m}", max(_utc(d), self.start), min(_utc(nxt), self.end)))
            d = nxt
        return out


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def _bad_period(text: str) -> InvalidInput:
    return InvalidInput(f"period {text!r}: use 2026, 2026-Q3, 2026-11, 2026-W47 or 2026-01-01..2026-03-31",
                        f"统计期 {text!r} 格式无效", code="bad_period")


def parse_period(text: str) -> Period:
    text = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})", text):
            y = int(m[1])
            first, last = date(y, 1, 1), date(y + 1, 1, 1)
        elif m := re.fullmatch(r"(\d{4})-Q([1-4])", text, re.I):
            y, q = int(m[1]), int(m[2])
            first = date(y, 3 * q - 2, 1)
            last = date(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
        elif m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            y, mo = int(m[1]), int(m[2])
            first, last = date(y, mo, 1), date(y + mo // 12, mo % 12 + 1, 1)
        elif m := re.fullmatch(r"(\d{4})-W(\d{2})", text, re.I):
            first = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            last = first + timedelta(days=7)
        elif m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2]) + timedelta(days=1)
        else:
            raise _bad_period(text)
    except (ValueError, OverflowError):  # date(10000, …) is a ValueError, 9999-12-31 + 1 day an OverflowError
        raise _bad_period(text) from None
    if last <= first or not (year_in_range(first.year) and year_in_range((last - timedelta(days=1)).year)):
        raise _bad_period(text)  # 0001 has no UTC start, 9999 no end: the years ApiDatetime accepts
    return Period(text, _utc(first), _utc(last))
