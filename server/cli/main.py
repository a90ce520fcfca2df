"""`gridops` command line: the entry point that wires settings, database and services together."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from server.cli import events_cmd, grids_cmd, metrics_cmd
from server.cli import assessment_cmd, devices_cmd, divisions_cmd, secrets_cmd, setup_cmd
from server.cli import users_cmd
from server.cli.common import keys_refused
from server.config import get_settings

Handler = Callable[[argparse.Namespace], int]


def _db_upgrade(args: argparse.Namespace) -> int:
    from server.database.migrate import upgrade

    upgrade(get_settings().database_url, args.revision)
    print(f"database at {args.revision}: {get_settings().database_url}")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    from server.database.migrate import downgrade

    downgrade(get_settings().database_url, args.revision)
    return 0


def _db_analyze(args: argparse.Namespace) -> int:
    from server.database.core import analyze, get_engine

    analyze(get_engine())
    print(f"planner statistics gathered: {get_settings().database_url}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from server.database.core import get_sessionmaker
    from server.demo import DEMO_PASSWORD, has_demo, load_demo

    with get_sessionmaker()() as db_session:
        if has_demo(db_session):
            if args.if_empty:
                print("demo data already present; nothing to do")
                return 0
            print("demo district 440112 already exists (use --if-empty to skip quietly)", file=sys.stderr)
            return 1
        counts = load_demo(db_session)
        db_session.commit()
        print("demo loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()), flush=True)
        if args.days:
            from server.database.types import utcnow
            from server.demo import load_year

            from server.events import service as events

            year = load_year(db_session, now=utcnow(), days=args.days)
            events.backfill_serials(db_session)  # bulk-inserted events numbered (2026-000123) in order reported
            db_session.commit()
            print(f"the last {args.days} days:")
            for part, part_counts in year.items():
                print(f"  {part}: " + ", ".join(f"{v} {k}" for k, v in part_counts.items()))
            if "rentals" not in year:
                print("  rentals: none (tenants' ID numbers need GRIDOPS_PII_KEY, or GRIDOPS_DEMO=true)",
                      file=sys.stderr)
    from server.database.core import analyze, get_engine

    analyze(get_engine())  # a year of rows just arrived: SQLite's planner needs to know
    print(f"demo logins (password {DEMO_PASSWORD}): admin, command, auditor, street01..street06, w001..")
    return 0


def _mobile(args: list[str]) -> int:
    from mobile.__main__ import main as mobile_main  # Kivy is imported only when the app starts

    return mobile_main(args)


OPEN_FILES = 65536  # sockets: 2,000 live feeds and the requests beside them, with room (bench/bench_feeds.py)


def raise_open_files(wanted: int = OPEN_FILES) -> int:
    """Raise this process's soft limit on open files (inherited by uvicorn's workers) to `wanted`, or
    the hard limit if lower, and return it. Each open live feed holds a socket for up to an hour, and
    the usual soft limit of 1,024 refuses connections well before 2,000 feeds; raising a soft limit
    needs no privilege. Past the hard limit: `ulimit -Hn` / systemd's LimitNOFILE= (README)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.demo import DEMO_PASSWORD

    settings = get_settings()
    if keys_refused(settings):
        return 2
    docs = f"  (API docs: http://{args.host}:{args.port}/docs)" if settings.docs_enabled else ""
    print(f"gridops at http://{args.host}:{args.port}/{docs}")
    if (files := raise_open_files()) < OPEN_FILES:
        print(f"warning: at most {files:,} open files (ulimit -Hn): fewer connections and live feeds at once")
    if settings.demo:
        print(f"demo login: admin / {DEMO_PASSWORD}")
    from server.cli.devices_cmd import start_embedded  # MQTT broker + ingester for the demo (GRIDOPS_MQTT_EMBEDDED)
    start_embedded(settings)
    uvicorn.run("server.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="gridops", description="gridops: 网格化管理 field-operations platform.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP API and dashboard")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (stateless)")
    serve.set_defaults(func=_serve)

    db = sub.add_parser("db", help="database migrations (alembic)").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate to the newest schema (or --revision)")
    up.add_argument("--revision", default="head")
    up.set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="migrate down to a revision ('base' empties the database)")
    down.add_argument("revision")
    down.set_defaults(func=_db_downgrade)
    stats = db.add_parser("analyze", help="gather planner statistics (SQLite: run it nightly from cron; "
                                          "PostgreSQL's autovacuum does it by itself)")
    stats.set_defaults(func=_db_analyze)

    demo = sub.add_parser("demo", help="create the demo district: 6 streets, 36 communities, 288 grids, users")
    demo.add_argument("--if-empty", action="store_true", help="do nothing if the demo district exists")
    demo.add_argument("--days", type=int, default=365, metavar="N",
                      help="days of history to generate (0: none): events, visits, device status, "
                           "rentals and tenants, card events, trainings, weekly reports")
    demo.set_defaults(func=_demo)

    setup_cmd.add_parser(sub)
    divisions_cmd.add_parser(sub)
    mobile = sub.add_parser("mobile", add_help=False, help="the grid worker's app on this desktop (python -m mobile; "
                                                          "`gridops mobile --help` for its options)")
    mobile.add_argument("mobile_args", nargs=argparse.REMAINDER, help="passed to python -m mobile")

    grids_cmd.add_parser(sub)
    devices_cmd.add_parser(sub)
    devices_cmd.add_rentals_parser(sub)
    events_cmd.add_parser(sub)
    metrics_cmd.add_parser(sub)
    assessment_cmd.add_parser(sub)
    secrets_cmd.add_parser(sub)
    users_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["mobile"]:  # its own options, --help included, belong to python -m mobile
        return _mobile(argv[1:])
    args = build_parser().parse_args(argv)
    import server.database.models  # noqa: F401 - every mapper, so a command's query resolves any relationship
    handler: Handler = args.func
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
