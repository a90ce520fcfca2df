"""`gridops events sweep` (warnings before due times and overdue marks) and `gridops events calendar check`."""

from __future__ import annotations

import argparse
import sys

from server.cli.common import single_job
from server.database.types import utcnow


def _sweep(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.events.scheduled import sweep

    def run() -> str:
        with get_sessionmaker()() as db_session:
            counts = sweep(db_session=db_session, now=utcnow())
            db_session.commit()
        return ", ".join(f"{k}={v}" for k, v in counts.items())

    return single_job("events sweep", args.every, run)


def _calendar_check(args: argparse.Namespace) -> int:
    """Exit 1 when a year the time limits need is missing (cron it in November), 2 when the file is unusable."""
    from server.config import get_settings
    from server.events.workcal import DEFAULT_CALENDAR_PATH, calendar_at, calendar_warnings

    path = get_settings().holiday_calendar
    print(f"holiday calendar: {path or DEFAULT_CALENDAR_PATH}")
    try:
        cal = calendar_at(path)
    except (OSError, ValueError) as exc:
        print(f"error [holiday_calendar_invalid]: 节假日日历无法读取 / the holiday calendar cannot be read: {exc}",
              file=sys.stderr)
        return 2
    print("years: " + (", ".join(map(str, sorted(cal.covered_years))) if cal.covered_years else "none claimed"))
    found = calendar_warnings(cal, utcnow())
    for w in found:
        print(f"warning [{w.code}]: {w.message_zh} / {w.message_en}", file=sys.stderr)
    if not found:
        print("ok")
    return 1 if found else 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    events = sub.add_parser("events", help="event flow jobs").add_subparsers(dest="events_command", required=True)
    sweep = events.add_parser("sweep", help="mark overdue events and warn before they are due (预警/超期)")
    sweep.add_argument("--every", type=float, default=0, metavar="SECONDS",
                       help="repeat every SECONDS (default: run once, e.g. from cron)")
    sweep.set_defaults(func=_sweep)
    cal = events.add_parser("calendar", help="the public-holiday calendar of working-day time limits").add_subparsers(
        dest="calendar_command", required=True)
    check = cal.add_parser("check", help="exit 1 if this year, or from 1 November next year, is missing "
                                         "(GRIDOPS_HOLIDAY_CALENDAR; README: Time limits)")
    check.set_defaults(func=_calendar_check)
