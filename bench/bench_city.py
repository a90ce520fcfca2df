"""Benchmark the statistics at city scale: a year of a city of 10,000 grids and 10,000,000 events on
PostGIS, every indicator for the city, a district and every grid; or the demo district on SQLite.

Run:  .venv/bin/python bench/bench_city.py [--reuse] [--events 10000000] [--districts 10]
      .venv/bin/python bench/bench_city.py --backend sqlite --demo [--demo-db PATH]

PostGIS (default): the database gridops_city_bench next to --pg-url is migrated and filled in SQL
(INSERT … SELECT generate_series, secondary indexes dropped during the load and rebuilt after,
UUIDs in increasing order so that the unique indexes, which stay, are appended to, VACUUM ANALYZE): D districts × 10 streets × 10 communities × 10 grids (square cells), one grid
worker per grid (assigned since 2020), the events of the year (categories weighted as in
bench_indicators, a dispute row for each dispute event, 80 % closed, satisfaction on 60 %), 20 visits
per worker-month, an app session on ~70 % of days per worker, two devices per grid with a year of
status intervals. --reuse keeps and reuses a loaded database (loading takes minutes); without it the
database is made afresh and kept.

Timed through the service functions, as the endpoints call them (each a fresh session):
city        every computable indicator for each of the city's D districts, in one compute_many call
            (the board of a city: no scope above a district exists)
district    every computable indicator for one district (GET /indicators)
areas/grid  GET /indicators/areas?scope=district:…&level=grid (the district + its 1,000 grids)
city grids  the same for all 10,000 grids of the city (the D districts' grid rows in one call)
self-eval   tables.self_evaluation for a district from tests/metrics/data/seed_003.xlsx

The per-process indicator cache is off (GRIDOPS_INDICATOR_CACHE_S=0): every figure is a computation.
First the rollup runs, timed (`gridops metrics rollup`: on a fresh load every event, all at once
with the indexes rebuilt around it; on a reused one only those not yet rolled up), and with
--check-rollup the check.
--live times every statistic reading every event too (the baseline, rollup ignored; the
self-evaluation is timed as served either way). --only 'one district' picks statistics by label.

SQLite --demo: `gridops demo` into a temp database (about 1.5 min) unless --demo-db names one
already made, then GET /indicators/areas at level=grid and level=street and GET /indicators
(every indicator) for the demo district, through the HTTP app (TestClient). The machine's load
(1-minute load average, other processes' CPU share during the run) is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRIDOPS_SECRET_KEY", "bench-secret-key-with-at-least-32-bytes!")
os.environ["GRIDOPS_INDICATOR_CACHE_S"] = "0"  # time the computation, not the per-process cache

from _harness import bench_parser  # noqa: E402
from sqlalchemy import Connection, Engine, create_engine, event as sa_event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from metrics.declaration import read_declaration  # noqa: E402
from server.database.core import make_engine  # noqa: E402
from server.database.migrate import upgrade  # noqa: E402
from server.indicators import service, tables  # noqa: E402
from server.indicators.periods import Scope, parse_period  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_city"
PG_DATABASE = "gridops_city_bench"
CITY = "4401"  # districts 440101 … 4401DD
YEAR = 2026
NOW = datetime(YEAR + 1, 1, 30, 2, tzinfo=UTC)  # the self-evaluation is made in January
SEED_003 = ROOT / "tests" / "metrics" / "data" / "seed_003.xlsx"
SHEET = "07基层社会治理和网格化创新工作经费"
ALL_AT_ONCE = 500_000  # events not yet rolled up above which the first run's set-based path is taken
LOADED_TABLES = ("event", "dispute", "visit", "app_session", "device", "device_status_interval")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "postgis = the city on gridops_city_bench; sqlite = only with --demo")
    p.set_defaults(backend="postgis")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_TEST_POSTGRES_URL", DEFAULT_PG_URL),
                   help=f"any database of the server: used to create the database {PG_DATABASE}")
    p.add_argument("--database", default=PG_DATABASE, help="the PostgreSQL database the city is loaded into")
    p.add_argument("--events", type=int, default=10_000_000, help="events reported in the year")
    p.add_argument("--districts", type=int, default=10, help="districts of 1,000 grids each")
    p.add_argument("--reuse", action="store_true", help="reuse the loaded database if its sizes match")
    p.add_argument("--demo", action="store_true", help="SQLite: time the demo district (gridops demo)")
    p.add_argument("--demo-db", type=Path, help="SQLite: a database `gridops demo` already made")
    p.add_argument("--repeat", type=int, default=2, help="times each statistic is computed (best and first shown)")
    p.add_argument("--live", action="store_true",
                   help="also time every statistic reading every event (the rollup ignored): the baseline")
    p.add_argument("--only", action="append", metavar="WORDS",
                   help="only the statistics whose label contains WORDS (repeatable), e.g. 'one district'")
    p.add_argument("--check-rollup", action="store_true", help="also time `gridops metrics check-rollup` on the city")
    args = p.parse_args(argv)
    if args.backend == "both" or (args.backend == "sqlite") != args.demo:
        p.error("--backend postgis for the city, --backend sqlite --demo for the demo district")
    if not 1 <= args.districts <= 99 or args.events < 1:
        p.error("--districts 1..99, --events >= 1")
    return args


# ---------------------------------------------------------------------------------------------
# Machine load: the load average and the CPU the other processes used while we ran


def _cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Load:
    """Other processes' share of the machine's CPU between two points (ours subtracted)."""

    def __init__(self) -> None:
        self.busy, self.total = _cpu()
        self.own = _own_cpu()

    def other_pct(self) -> float:
        busy, total = _cpu()
        hz = os.sysconf("SC_CLK_TCK")
        other = (busy - self.busy) - (_own_cpu() - self.own) * hz
        return max(0.0, 100.0 * other / max(1.0, total - self.total))


def machine() -> str:
    return (f"{platform.node()}: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
            f"(shared with the other helpers' work)")


# ---------------------------------------------------------------------------------------------
# The city, generated in SQL


def _pg_urls(pg_url: str, database: str) -> tuple[str, str]:
    admin = make_url(pg_url).render_as_string(hide_password=False)
    return admin, make_url(pg_url).set(database=database).render_as_string(hide_password=False)


def _sizes(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return {t: int(c.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar() or 0)
                    for t in ("grid", "user", "grid_assignment", *LOADED_TABLES)}
    except Exception:  # noqa: BLE001 - not loaded yet
        return {}
    finally:
        engine.dispose()


def _steps(districts: int, events: int) -> list[tuple[str, str]]:
    """The load, one statement a step. Grid g (1-based, district-major) has worker g; codes are
    4401DD + street SSS + community CCC + grid GGG."""
    grids = districts * 1000
    y0, y1 = f"{YEAR}-01-01 00:00+08", f"{YEAR + 1}-01-01 00:00+08"
    span = f"(timestamptz '{y1}' - timestamptz '{y0}')"
    cats = ("(ARRAY['sanitation','sanitation','sanitation','sanitation','sanitation','public_security',"
            "'public_security','fire_hazard','fire_hazard','dispute','dispute','work_safety','rental',"
            "'rental','special_population','other'])")
    return [
        ("districts", f"""INSERT INTO district (code, name)
            SELECT '{CITY}' || lpad(d::text, 2, '0'), '第' || d || '区' FROM generate_series(1, {districts}) d"""),
        ("streets", """INSERT INTO street (code, name, district_id)
            SELECT d.code || lpad(s::text, 3, '0') || '000', '街道' || s, d.id
            FROM district d, generate_series(1, 10) s"""),
        ("communities", """INSERT INTO community (code, name, street_id)
            SELECT substr(st.code, 1, 9) || lpad(c::text, 3, '0'), '社区' || c, st.id
            FROM street st, generate_series(1, 10) c"""),
        ("grids", """INSERT INTO grid (id, code, name, grid_type, community_id, geom, area_m2, valid_from, created_at)
            SELECT id, code, '第' || k || '网格', 'comprehensive', community_id,
                   ST_Multi(ST_MakeEnvelope(113.0 + ((id - 1) % 100) * 0.004, 22.8 + ((id - 1) / 100) * 0.004,
                                            113.004 + ((id - 1) % 100) * 0.004, 22.804 + ((id - 1) / 100) * 0.004, 4490)),
                   410.0 * 445.0, timestamptz '2020-01-01Z', timestamptz '2020-01-01Z'
            FROM (SELECT row_number() OVER (ORDER BY cm.code, k) AS id, cm.code || lpad(k::text, 3, '0') AS code, k,
                         cm.id AS community_id FROM community cm, generate_series(1, 10) k) g"""),
        ("workers", """INSERT INTO "user" (id, username, full_name, hashed_password, role, street_code, is_active,
                                         created_at, must_change_password, token_version)
            SELECT g.id + 100, 'w' || g.id, '网格员' || g.id, 'x', 'grid_worker', substr(g.code, 1, 9) || '000', true,
                   timestamptz '2020-01-01Z', false, 0 FROM grid g"""),
        ("admins", """INSERT INTO "user" (id, username, full_name, hashed_password, role, district_code, is_active,
                                         created_at, must_change_password, token_version)
            SELECT d.id, 'admin' || d.code, '区管理员', 'x', 'district_admin', d.code, true,
                   timestamptz '2020-01-01Z', false, 0 FROM district d"""),
        ("assignments", """INSERT INTO grid_assignment (grid_id, user_id, valid_from)
            SELECT id, id + 100, timestamptz '2020-01-01Z' FROM grid"""),
        ("events", f"""INSERT INTO event (id, uuid, request_hash, category_code, description, geom, lon, lat,
                source_datum, reporter_id, grid_id, street_code, state, reported_at, created_at, updated_at,
                closure_due_at, step_overdue, overdue, closed_at, closed_on_time, satisfaction, photos)
            SELECT n, '00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'), 'bench', c, '垃圾堆放', ST_SetSRID(ST_MakePoint(x, y), 4490), x, y,
                   'cgcs2000', g + 100, g, street, st, at, at, at, at + interval '7 days', false, false,
                   CASE WHEN st IN ('closed', 'reviewed') THEN at + r3 * interval '9 days' END,
                   CASE WHEN st IN ('closed', 'reviewed') THEN r3 < 0.78 END,
                   CASE WHEN st IN ('closed', 'reviewed') AND r2 < 0.6 THEN
                        (ARRAY['very_satisfied','satisfied','satisfied','neutral','dissatisfied'])[1 + (r4 * 5)::int % 5]
                   END, '[]'
            FROM (SELECT n, g, r2, r3, r4, c,
                         timestamptz '{y0}' + (n - 1)::float8 / {events} * {span} AS at,
                         113.0 + ((g - 1) % 100) * 0.004 + 0.002 AS x, 22.8 + ((g - 1) / 100) * 0.004 + 0.002 AS y,
                         '{CITY}' || lpad((1 + (g - 1) / 1000)::text, 2, '0')
                             || lpad((1 + (g - 1) / 100 % 10)::text, 3, '0') || '000' AS street,
                         CASE WHEN r1 < 0.03 THEN 'rejected' WHEN r1 < 0.05 THEN 'merged'
                              WHEN r1 < 0.70 THEN 'closed' WHEN r1 < 0.85 THEN 'reviewed' ELSE 'handled' END AS st
                  FROM (SELECT n, 1 + (hashint4(n) & 2147483647) % {grids} AS g, random() AS r1, random() AS r2,
                               random() AS r3, random() AS r4,
                               {cats}[1 + (hashint4(n + 7) & 2147483647) % 16] AS c
                        FROM generate_series(1, {events}) n) raw) e"""),
        ("disputes", """INSERT INTO dispute (event_id, street_code, grid_id, reported_at, parties, mediation_result,
                                 mediated_at, reply_due_at, replied_at)
            SELECT id, street_code, grid_id, reported_at, '[]', CASE WHEN closed_at IS NOT NULL THEN
                                  CASE WHEN id % 10 < 8 THEN 'success' ELSE 'failure' END END,
                   closed_at, reported_at + interval '30 days',
                   CASE WHEN id % 7 <> 0 THEN reported_at + (id % 40) * interval '1 day' END
            FROM event WHERE category_code = 'dispute'"""),
        ("visits", f"""INSERT INTO visit (uuid, request_hash, worker_id, street_code, grid_id, started_at, ended_at,
                geom, points, households, photos, counted, created_at)
            SELECT '00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'), 'bench', g + 100, '{CITY}' || lpad((1 + (g - 1) / 1000)::text, 2, '0')
                       || lpad((1 + (g - 1) / 100 % 10)::text, 3, '0') || '000', g, at, at + interval '40 minutes',
                   ST_Multi(ST_SetSRID(ST_MakePoint(113.0 + ((g - 1) % 100) * 0.004 + 0.001,
                                                    22.8 + ((g - 1) / 100) * 0.004 + 0.001), 4490)),
                   '[]', '[]', '[]', n % 25 <> 0, at
            FROM (SELECT n, 1 + (n - 1) % {grids} AS g,
                         timestamptz '{y0}' + (n - 1)::float8 / ({grids} * 240) * {span} AS at
                  FROM generate_series(1, {grids} * 240) n) v"""),
        ("app sessions", f"""INSERT INTO app_session (user_id, day, app_version, first_at, last_at, syncs)
            SELECT u, d::date, '0.1.0', d::timestamptz + interval '9 hours', d::timestamptz + interval '17 hours', 8
            FROM generate_series(101, {grids} + 100) u,
                 generate_series(date '{YEAR}-01-01', date '{YEAR}-12-31', interval '1 day') d
            WHERE hashint4(u * 1000 + extract(doy FROM d)::int) & 1023 < 717"""),
        ("devices", f"""INSERT INTO device (id, code, name, kind, grid_id, installed_at, heartbeat_interval_s, created_at)
            SELECT n, 'CITY' || lpad(n::text, 7, '0'), '设备' || n,
                   (ARRAY['camera','camera','link','terminal'])[1 + n % 4], 1 + (n - 1) / 2,
                   timestamptz '2025-03-01Z', 60, timestamptz '2025-03-01Z'
            FROM generate_series(1, {grids} * 2) n"""),
        ("device states", """INSERT INTO device_state (device_id, status, status_since, heartbeats, messages)
            SELECT id, 'online', installed_at, 0, 0 FROM device"""),
        ("status intervals", f"""INSERT INTO device_status_interval (device_id, status, start_at, end_at, reason)
            SELECT d, CASE WHEN k % 2 = 0 THEN 'online' ELSE 'offline' END,
                   CASE WHEN k = 0 THEN timestamptz '2025-03-01Z' WHEN k % 2 = 0 THEN b + (k / 2) * interval '22 days'
                        ELSE b + (k / 2 + 1) * interval '22 days' - h END,
                   CASE WHEN k = 16 THEN NULL WHEN k % 2 = 0 THEN b + (k / 2 + 1) * interval '22 days' - h
                        ELSE b + (k / 2 + 1) * interval '22 days' END, 'heartbeat'
            FROM (SELECT d, k, timestamptz '{y0}' AS b, (1 + d % 3) * interval '6 hours' AS h
                  FROM generate_series(1, {grids} * 2) d, generate_series(0, 16) k) iv"""),
    ]


@contextmanager
def secondary_indexes_dropped(conn: Connection, tables: Sequence[str]) -> Iterator[None]:
    """Drop the tables' indexes other than constraints' for a bulk write in this transaction, and
    rebuild them after it (one sorted build each instead of an entry at a time, at random)."""
    names = ", ".join(f"'{t}'" for t in tables)
    ddl = conn.exec_driver_sql(
        f"SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename IN "
        f"({names}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").all()
    for name, _ in ddl:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    yield
    t = time.perf_counter()
    for _, statement in ddl:
        conn.exec_driver_sql(statement)
    print(f"  indexes rebuilt ({len(ddl)})            {time.perf_counter() - t:7.1f} s", flush=True)


def load_city(args: argparse.Namespace) -> tuple[str, dict[str, int], float]:
    """The loaded database's URL, its sizes and the seconds the load took (0 when reused)."""
    admin_url, url = _pg_urls(args.pg_url, args.database)
    if args.reuse:
        sizes = _sizes(url)
        if sizes.get("grid") == args.districts * 1000 and sizes.get("event") == args.events:
            upgrade(url)  # a database loaded before the newest migrations gets them (0017: the rollup)
            return url, sizes, 0.0
        print(f"--reuse: {args.database} holds {sizes or 'nothing'}; loading afresh")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {args.database}"))
    admin.dispose()
    upgrade(url)
    engine = make_engine(url)
    t_all = time.perf_counter()
    with engine.begin() as conn:
        with secondary_indexes_dropped(conn, LOADED_TABLES):
            for label, sql in _steps(args.districts, args.events):
                t = time.perf_counter()
                n = conn.exec_driver_sql(sql.replace("%", "%%")).rowcount
                print(f"  load {label:<17} {n:>11,} rows  {time.perf_counter() - t:7.1f} s", flush=True)
        for seq, table in (("grid_id_seq", "grid"), ("user_id_seq", '"user"'), ("event_id_seq", "event"),
                           ("device_id_seq", "device")):
            conn.exec_driver_sql(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
    t = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE                      {time.perf_counter() - t:7.1f} s", flush=True)
    engine.dispose()
    return url, _sizes(url), time.perf_counter() - t_all


# ---------------------------------------------------------------------------------------------
# The timings


SLOW: list[tuple[float, str, Any]] = []  # (seconds, statement, parameters) of the last timed run


def watch(engine: Any) -> None:
    """Record every statement's own time, for the slow parts of each statistic."""
    def before(conn, cursor, statement, parameters, context, many):  # type: ignore[no-untyped-def]
        conn.info["t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, many):  # type: ignore[no-untyped-def]
        SLOW.append((time.perf_counter() - conn.info.pop("t0"), statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", before)
    sa_event.listen(engine, "after_cursor_execute", after)


def timed(label: str, repeat: int, run: Callable[[], Any]) -> tuple[str, list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        SLOW.clear()
        t = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t)
        print(f"  {label}: {times[-1]:.2f} s", flush=True)
    slowest = sorted(SLOW, key=lambda x: -x[0])[:3]
    in_db = sum(x[0] for x in SLOW)
    return label, times, (result, in_db, slowest)


def show(rows: list[tuple[str, list[float], Any]], load: Load) -> None:
    print(f"\n{'statistic':<58} {'first':>8} {'best':>8} {'in SQL':>8}   goal")
    for label, times, (_, in_db, _) in rows:
        print(f"{label:<58} {times[0]:>7.2f}s {min(times):>7.2f}s {in_db:>7.2f}s   "
              f"{'ok' if max(times) < 10 else 'OVER 10 s'}")
    for label, times, (_, _, slowest) in rows:
        if max(times) >= 1:
            print(f"\n{label}: slowest statements " + "; ".join(
                f"{secs:.2f} s {' '.join(sql.split())[:150]}…" for secs, sql, _ in slowest))
    print(f"other processes used {load.other_pct():.0f} % of the machine's CPU meanwhile; {machine()}")


def roll_up(url: str, check_too: bool) -> None:
    """`gridops metrics rollup` over the city (only the events not yet rolled up), timed; with
    check_too `gridops metrics check-rollup` as well. A database holding more than ALL_AT_ONCE of
    them (a fresh load, or one rolled up by an older rule) gets the first run's set-based path,
    `--all-at-once`, with the event table's secondary indexes rebuilt around it (a maintenance window's
    way: batches rewrite each row through 10 indexes at random, about 1.6 ms a row here)."""
    from server.indicators.rollup import check, prepare, roll_up_all, roll_up_batch

    engine = make_engine(url)
    with Session(engine) as s:
        t, total = time.perf_counter(), 0
        prepare(s, NOW)
        s.commit()
        due = s.scalar(text("SELECT count(*) FROM event WHERE NOT rolled_up")) or 0
        if due > ALL_AT_ONCE:
            with secondary_indexes_dropped(s.connection(), ("event",)):
                total = roll_up_all(s, NOW)
                print(f"  rollup all at once: {total:,} events in {time.perf_counter() - t:.1f} s", flush=True)
            s.commit()
        while n := roll_up_batch(s, NOW):
            s.commit()
            total += n
        print(f"rollup: {total:,} events rolled up in {time.perf_counter() - t:.1f} s "
              f"({s.scalar(text('SELECT count(*) FROM event WHERE rolled_up')):,} in the rollup, "
              f"{s.scalar(text('SELECT count(*) FROM event_rollup')):,} cells)", flush=True)
    if total > ALL_AT_ONCE:
        t = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE event")  # what autovacuum does after so many updates, done now
        print(f"VACUUM ANALYZE event: {time.perf_counter() - t:.1f} s", flush=True)
    if check_too:
        with Session(engine) as s:
            t = time.perf_counter()
            problems = check(s)
            print(f"check-rollup: {len(problems)} differences in {time.perf_counter() - t:.1f} s", flush=True)
    engine.dispose()


def city_timings(url: str, districts: int, repeat: int, rollup: bool = True,
                 only: list[str] | None = None) -> list[tuple[str, list[float], Any]]:
    engine = make_engine(url)
    watch(engine)
    period = parse_period(str(YEAR))
    codes = list(service.COMPUTABLE)
    d1 = Scope("district", f"{CITY}01")
    all_districts = [Scope("district", f"{CITY}{d:02d}") for d in range(1, districts + 1)]
    declaration = read_declaration(SEED_003, sheet=SHEET)

    def compute(scopes: Callable[[Session], list[Scope]]) -> Callable[[], int]:
        def run() -> int:
            with Session(engine) as s:
                return len(service.compute_many(db_session=s, scopes=scopes(s), codes=codes, period=period, now=NOW,
                                                rollup=rollup))
        return run

    def self_eval() -> int:
        with Session(engine) as s, tempfile.TemporaryDirectory() as tmp:
            return len(tables.self_evaluation(db_session=s, declaration=declaration, scope=d1, year=YEAR,
                                              out=Path(tmp) / "t.xlsx", now=NOW))

    def grids_of(scopes: list[Scope]) -> Callable[[Session], list[Scope]]:
        return lambda s: [*scopes, *(g for sc in scopes for g in service.scopes_below(s, sc, "grid", period))]

    statistics: list[tuple[str, Callable[[], Any]]] = [
        (f"every indicator ({len(codes)}), the city's {districts} districts", compute(lambda s: all_districts)),
        ("every indicator, one district (GET /indicators)", compute(lambda s: [d1])),
        ("areas level=street, one district", compute(lambda s: [d1, *service.scopes_below(s, d1, "street", period)])),
        ("areas level=grid, one district (1,000 grids)", compute(grids_of([d1]))),
        (f"areas level=grid, the city ({districts * 1000:,} grids)", compute(grids_of(all_districts))),
        (f"self-evaluation table, one district ({len(declaration.rows)} rows)", self_eval),
    ]
    rows = [timed(label, repeat, run) for label, run in statistics if not only or any(w in label for w in only)]
    engine.dispose()
    return rows


def run_city(args: argparse.Namespace) -> None:
    print(f"== PostGIS city: {machine()}")
    load = Load()
    url, sizes, secs = load_city(args)
    print(f"sizes: {', '.join(f'{t} {n:,}' for t, n in sizes.items())}"
          f"{f'; loaded in {secs:.0f} s' if secs else ' (reused)'}")
    roll_up(url, args.check_rollup)
    if args.live:
        print("\n-- every event read row by row (the rollup ignored): the baseline")
        load = Load()
        show(city_timings(url, args.districts, args.repeat, rollup=False, only=args.only), load)
        print("\n-- with the rollup")
    load = Load()
    show(city_timings(url, args.districts, args.repeat, only=args.only), load)


# ---------------------------------------------------------------------------------------------
# The demo district on SQLite, through HTTP


def run_demo(args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from server.auth.models import User
    from server.auth.security import create_token
    from server.config import get_settings
    from server.main import create_app

    db = args.demo_db
    if db is None:
        db = Path(tempfile.mkdtemp(prefix="gridops-city-demo-")) / "demo.db"
        env = {**os.environ, "GRIDOPS_DATABASE_URL": f"sqlite:///{db}", "GRIDOPS_DEMO": "true"}
        t = time.perf_counter()
        for command in (["db", "upgrade"], ["demo"], ["metrics", "rollup"]):  # the rollup as its service would
            subprocess.run([sys.executable, "-m", "server.cli.main", *command], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
        print(f"gridops demo made {db} in {time.perf_counter() - t:.0f} s")
    os.environ.update(GRIDOPS_DATABASE_URL=f"sqlite:///{db}", GRIDOPS_DEMO="true")  # the demo's keys
    get_settings.cache_clear()
    engine = make_engine(os.environ["GRIDOPS_DATABASE_URL"])
    with Session(engine) as s:
        admin = s.query(User).filter(User.role == "district_admin").order_by(User.id).first()
        district = admin.district_code
        events = s.execute(text("SELECT count(*) FROM event")).scalar()
        grids = s.execute(text("SELECT count(*) FROM grid")).scalar()
        token = create_token(subject=admin.username, role=admin.role, secret=get_settings().secret_key, minutes=60,
                             version=admin.token_version or 0)
        headers = {"Authorization": f"Bearer {token}"}
    engine.dispose()
    print(f"== SQLite demo district {district}: {grids} grids, {events:,} events; {machine()}")
    watch(Engine)  # every engine: the app makes its own
    client = TestClient(create_app())
    load = Load()
    base = f"scope=district:{district}&period={YEAR}"

    def get(path: str) -> Callable[[], int]:
        def run() -> int:
            r = client.get(f"/api/v1{path}", headers=headers)
            assert r.status_code == 200, r.text[:300]
            return len(r.content)
        return run

    rows = [timed("GET /indicators/areas level=grid", args.repeat, get(f"/indicators/areas?{base}&level=grid")),
            timed("GET /indicators/areas level=street", args.repeat, get(f"/indicators/areas?{base}&level=street")),
            timed("GET /indicators (every indicator)", args.repeat, get(f"/indicators?{base}"))]
    rows += [timed(f"GET /indicators/{code}", 1, get(f"/indicators/{code}?{base}")) for code in service.COMPUTABLE]
    show(rows, load)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.demo:
        run_demo(args)
    else:
        run_city(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
