"""`gridops events sweep`: deadline warnings and overdue marks, once or on a schedule."""

from __future__ import annotations

import argparse
import time

from server.database.types import utcnow


def _sweep(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.events.scheduled import sweep

    while True:
        with get_sessionmaker()() as db_session:
            counts = sweep(db_session=db_session, now=utcnow())
            db_session.commit()
        print(f"{utcnow().isoformat(timespec='seconds')} sweep: " + ", ".join(f"{k}={v}" for k, v in counts.items()),
              flush=True)
        if not args.every:
            return 0
        time.sleep(args.every)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    events = sub.add_parser("events", help="event flow jobs").add_subparsers(dest="events_command", required=True)
    sweep = events.add_parser("sweep", help="mark overdue events and warn before deadlines (预警/超期)")
    sweep.add_argument("--every", type=float, default=0, metavar="SECONDS",
                       help="repeat every SECONDS (default: run once, e.g. from cron)")
    sweep.set_defaults(func=_sweep)
