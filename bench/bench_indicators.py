"""Benchmark the indicator engine: a year of a district's operations, every event/visit indicator
for every scope, computed in the database (SQL aggregates) versus loaded into Python.

Run:  .venv/bin/python bench/bench_indicators.py [--backend sqlite|postgis|both] [--events 1000000]
          [--grids 500] [--scopes district|street|community|grid] [--year 2026] [--skip-naive]

For each back end: a fresh database (a temp dir for SQLite, the dedicated database
gridops_bench_ind next to --pg-url for PostGIS; nothing else is touched), migrated with
server.database.migrate.upgrade. The district 440112 gets its streets and communities through
server.divisions.service; grids (square EPSG:4490 cells, codes community(12)+serial(3)), grid
workers (assigned since before the year, a few replaced mid-year) and street admins are bulk
inserted. A year of events (with dispute rows for the dispute category) and visits is built
with numpy and inserted with SQLAlchemy Core insert(table) executemany in batches inside one
transaction; event_history is skipped (no indicator reads it). Devices with status intervals and
maintenance windows are added when server.devices imports (--devices 0 to skip).

(a) SQL: server.indicators.service.compute_many for all scopes and codes at once (grouped
    aggregates, one statement per table, rolled up to every scope); codes = the event, visit and
    dispute indicators (devices are timed apart; rentals, trainings and weekly reports have no
    event/visit data behind them).
(a') the same through service.compute one (scope, code) at a time, as the one-value API endpoint
    does (--no-per-value to skip).
(b) naive, what one writes first: per scope, one SELECT each of the needed columns of that
    scope's events, visits, disputes and grid assignments for the period, then the same formulas
    in Python.
(c) every row of the period loaded once, bucketed by street and grid in Python, each scope given
    the buckets under its prefix, the same formulas. All must agree: counts exactly, averages to 1e-9.
The year is evaluated as of 30 days after it ends (the self-evaluation is made in January).
Device online rates are timed through the service and checked against one pass over all
intervals with devices.availability (server.devices.rates reads the wall clock: the bench pins it
to the same evaluation moment). PostgreSQL gets VACUUM ANALYZE after the load (autovacuum would);
SQLite gets no statistics unless --sqlite-analyze (a database has none until `gridops db analyze`). Query plans
(EXPLAIN QUERY PLAN / EXPLAIN) of representative statements are printed; on SQLite the SQL paths
are timed again after ANALYZE (--no-then-analyze to skip).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("GRIDOPS_SECRET_KEY", "bench-secret-key-with-at-least-32-bytes!")

from _harness import bench_parser  # noqa: E402 - bench/, the script's own folder
from sqlalchemy import Engine, create_engine, event as sa_event, insert, or_, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from server.auth.models import User  # noqa: E402
from server.database.core import analyze, make_engine  # noqa: E402
from server.database.migrate import upgrade  # noqa: E402
from server.divisions import service as divisions  # noqa: E402
from server.divisions.models import Community  # noqa: E402
from server.events.enums import SATISFIED  # noqa: E402
from server.events.models import Dispute, Event, EventCategory  # noqa: E402
from server.grids.models import Grid, GridAssignment  # noqa: E402
from server.indicators import service  # noqa: E402
from server.indicators.periods import Period, Scope, parse_period  # noqa: E402
from server.indicators.quality import RULE_60, load_rule  # noqa: E402
from server.visits.models import Visit  # noqa: E402

try:  # devices are someone else's work in progress: include them only if they import
    from devices.availability import DeviceRecord, Span, device_availability
    from server.devices.models import Device, DeviceMaintenance, DeviceState, DeviceStatusInterval
    from server.devices import rates as rates_module
    from server.devices.rates import NO_GRID
    DEVICES_ERROR: str | None = None
except Exception as exc:  # noqa: BLE001
    DEVICES_ERROR = f"{type(exc).__name__}: {exc}"

DEFAULT_PG_URL = "postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_test"
PG_DATABASE = "gridops_bench_ind"
DISTRICT = "440112"
STREET_NAMES = ["黄埔街道", "红山街道", "鱼珠街道", "大沙街道", "文冲街道", "穗东街道", "长洲街道", "夏港街道"]
ORIGIN = (113.43, 23.08)
CELL_DEG = 0.004  # ~400 m
ASSIGNED_SINCE = datetime(2020, 1, 1, tzinfo=UTC)
BATCH = 20_000
DEVICE_CODES = {"online_rate": "camera", "link_online_rate": "link", "terminal_online_rate": "terminal"}
# The event and visit indicators (and disputes, which are events): what this benchmark computes both ways.
EVENT_VISIT_CODES = ("closure_rate", "on_time_closure_rate", "satisfaction", "reports_per_worker_month",
                     "visits_per_worker_month", "mediation_success_rate", "dispute_reply_within_30_days_rate",
                     "quality_score", "quality_score_60")

CATEGORY_WEIGHTS = {"sanitation": 30, "public_security": 14, "fire_hazard": 12, "dispute": 12, "work_safety": 8,
                    "rental": 10, "special_population": 6, "other": 8}
CLOSURE_DAYS = {"dispute": 30.0, "fire_hazard": 2.8, "work_safety": 2.8}  # else 5 working days ≈ 7 days
SATISFACTION = (["very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied"],
                [0.55, 0.33, 0.08, 0.03, 0.01])
OPEN_STATES = ["reported", "accepted", "dispatched", "returned", "handled"]
DESCRIPTIONS = ["垃圾堆放", "现场核实情况属实，已拍照取证，需相关部门尽快处置", "居民反映问题持续多日，影响周边群众正常生活",
                "巡查中发现，已向当事人做好解释劝导工作", "存在安全隐患", "存在安全隐患，已设置临时警示并持续跟踪"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__,
                     "sqlite = SQLite + SpatiaLite in a temp dir; postgis = database gridops_bench_ind at --pg-url")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_TEST_POSTGRES_URL", DEFAULT_PG_URL),
                   help=f"any database of the server: used only to DROP/CREATE the database {PG_DATABASE}")
    p.add_argument("--events", type=int, default=1_000_000, help="events reported in the year")
    p.add_argument("--grids", type=int, default=500, help="grids (one worker each; ~12 grids a community)")
    p.add_argument("--visits-per-worker-month", type=float, default=20.0,
                   help="visits generated: this × workers × 12 (500 grids → 120,000)")
    p.add_argument("--devices", type=int, default=20_000,
                   help="devices with a year of status intervals (0: skip devices; skipped anyway if server.devices"
                        " does not import)")
    p.add_argument("--scopes", choices=["district", "street", "community", "grid"], default="community",
                   help="deepest level computed: community = the district, every street and every community")
    p.add_argument("--year", type=int, default=2026, help="the year of operations")
    p.add_argument("--skip-naive", action="store_true", help="time only the SQL path (no value check)")
    p.add_argument("--per-value", action=argparse.BooleanOptionalAction, default=True,
                   help="also time every (scope, indicator) as its own service.compute call, as the API's "
                        "one-value endpoint does")
    p.add_argument("--sqlite-analyze", action="store_true",
                   help="run ANALYZE on SQLite after the load (PostgreSQL always gets VACUUM ANALYZE, as autovacuum "
                        "would); a SQLite database has none until `gridops db analyze` runs")
    p.add_argument("--then-analyze", action=argparse.BooleanOptionalAction, default=True,
                   help="SQLite without --sqlite-analyze: after the timings, run ANALYZE and time the SQL paths again")
    p.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True,
                   help="print query plans of representative indicator statements")
    p.add_argument("--keep", action="store_true", help="keep the SQLite file / PostgreSQL database afterwards")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    if args.events < 1 or args.grids < 1 or args.devices < 0:
        p.error("--events and --grids must be >= 1, --devices >= 0")
    if args.grids > 999 * 999:
        p.error("--grids: at most 999 grids a community")
    return args


# ---------------------------------------------------------------------------------------------
# Layout: streets, communities and grids with consistent codes


@dataclass
class Layout:
    streets: list[str]  # 12-digit codes
    communities: list[str]  # 12-digit codes
    community_street: list[int]  # index into streets
    grid_codes: list[str]  # 15-digit codes
    grid_community: np.ndarray  # index into communities
    grid_xy: np.ndarray  # (n, 2) south-west corner lon, lat
    grid_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # database ids, filled on insert

    @property
    def grid_street_code(self) -> list[str]:
        return [c[:9] + "000" for c in self.grid_codes]


def make_layout(n_grids: int) -> Layout:
    n_comm = max(1, math.ceil(n_grids / 12))
    n_street = max(1, min(len(STREET_NAMES), math.ceil(n_comm / 7)))
    comm_street = [c * n_street // n_comm for c in range(n_comm)]
    streets = [f"{DISTRICT}{s + 1:03d}000" for s in range(n_street)]
    communities, per_street = [], defaultdict(int)
    for s in comm_street:
        per_street[s] += 1
        communities.append(f"{DISTRICT}{s + 1:03d}{per_street[s]:03d}")
    grid_comm = np.arange(n_grids) * n_comm // n_grids
    codes, serial = [], defaultdict(int)
    for c in grid_comm:
        serial[c] += 1
        codes.append(f"{communities[c]}{serial[c]:03d}")
    cols = math.ceil(math.sqrt(n_grids))
    idx = np.arange(n_grids)
    xy = np.column_stack([ORIGIN[0] + (idx % cols) * CELL_DEG, ORIGIN[1] + (idx // cols) * CELL_DEG])
    return Layout(streets, communities, comm_street, codes, grid_comm, xy)


def scopes_for(layout: Layout, deepest: str) -> list[Scope]:
    out = [Scope("district", DISTRICT)]
    order = ["district", "street", "community", "grid"]
    if order.index(deepest) >= 1:
        out += [Scope("street", s) for s in layout.streets]
    if order.index(deepest) >= 2:
        out += [Scope("community", c) for c in layout.communities]
    if order.index(deepest) >= 3:
        out += [Scope("grid", g) for g in layout.grid_codes]
    return out


# ---------------------------------------------------------------------------------------------
# Data generation (numpy) and bulk insert


def to_datetimes(us: np.ndarray) -> list[datetime | None]:
    """Microseconds since the epoch (int64, NaT-free) → aware UTC datetimes."""
    naive = us.astype("datetime64[us]").astype(object)
    return [d.replace(tzinfo=UTC) for d in naive]


def to_datetimes_nullable(us: np.ndarray, valid: np.ndarray) -> list[datetime | None]:
    out: list[datetime | None] = [None] * len(us)
    idx = np.flatnonzero(valid)
    for i, d in zip(idx.tolist(), to_datetimes(us[idx])):
        out[i] = d
    return out


def us_of(dt: datetime) -> int:
    return int(round(dt.timestamp() * 1_000_000))


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    h = rng.bytes(16 * n).hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-a{h[i + 17:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * n, 32)]


def insert_rows(conn: Any, table: Any, n: int, make_rows: Callable[[int, int], list[dict[str, Any]]]) -> None:
    for lo in range(0, n, BATCH):
        conn.execute(insert(table), make_rows(lo, min(n, lo + BATCH)))


LOADED_TABLES = ("event", "dispute", "visit", "device_status_interval")


def drop_secondary_indexes(conn: Any) -> list[str]:
    """Drop the plain indexes of the bulk-loaded tables and return their DDL: building an index once
    after the load is several times cheaper than maintaining it row by row. Constraint indexes
    (primary keys, unique) stay. The schema is the same once recreate_indexes has run."""
    names = ", ".join(f"'{t}'" for t in LOADED_TABLES)
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                                    f"AND tbl_name IN ({names})").all()
    else:
        rows = conn.exec_driver_sql(
            f"SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename IN ({names}) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").all()
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [ddl for _, ddl in rows]


def recreate_indexes(conn: Any, ddl: list[str]) -> None:
    for statement in ddl:
        conn.exec_driver_sql(statement)


@dataclass
class Workers:
    """One worker per grid; a few grids change worker mid-year (the first leaves at `switch_us`)."""

    first: np.ndarray  # user id per grid
    second: np.ndarray  # user id per grid, 0 when no change
    switch_us: np.ndarray  # int64, the change moment (only where second > 0)
    street_admin: dict[str, int]  # street code → user id

    def at(self, grid: np.ndarray, t_us: np.ndarray) -> np.ndarray:
        later = (self.second[grid] > 0) & (t_us >= self.switch_us[grid])
        return np.where(later, self.second[grid], self.first[grid])


def create_divisions(engine: Engine, layout: Layout) -> None:
    with Session(engine) as s, s.begin():
        divisions.create_district(db_session=s, code=DISTRICT, name="黄埔区")
        for i, code in enumerate(layout.streets):
            divisions.create_street(db_session=s, code=code, name=STREET_NAMES[i], district_code=DISTRICT)
        for code, st in zip(layout.communities, layout.community_street):
            divisions.create_community(db_session=s, code=code, name=f"{STREET_NAMES[st]}第{int(code[9:])}社区",
                                       street_code=layout.streets[st])


def insert_grids_and_users(conn: Any, layout: Layout, period: Period, rng: np.random.Generator) -> Workers:
    comm_ids = dict(conn.execute(select(Community.code, Community.id)).all())
    n = len(layout.grid_codes)
    rows = []
    for i, code in enumerate(layout.grid_codes):
        x, y = layout.grid_xy[i]
        x1, y1 = x + CELL_DEG, y + CELL_DEG
        rows.append({"id": i + 1, "code": code, "name": f"第{code[-3:]}网格", "grid_type": "comprehensive",
                     "community_id": comm_ids[layout.communities[layout.grid_community[i]]],
                     "geom": f"SRID=4490;MULTIPOLYGON((({x} {y},{x1} {y},{x1} {y1},{x} {y1},{x} {y})))",
                     "area_m2": 410.0 * 445.0, "valid_from": ASSIGNED_SINCE, "retired_at": None,
                     "replaced_by_code": None, "created_at": ASSIGNED_SINCE})
    conn.execute(insert(Grid.__table__), rows)
    layout.grid_ids = np.arange(1, n + 1)
    users = [{"id": 1, "username": "admin", "full_name": "区综治中心管理员", "role": "district_admin",
              "district_code": DISTRICT, "street_code": None}]
    street_admin = {}
    for code in layout.streets:
        street_admin[code] = len(users) + 1
        users.append({"id": len(users) + 1, "username": f"street{code[6:9]}", "full_name": "街道管理员",
                      "role": "street_admin", "district_code": DISTRICT, "street_code": code})
    first = np.arange(n) + len(users) + 1
    changed = rng.random(n) < 0.04
    second = np.zeros(n, np.int64)
    second[changed] = first[-1] + 1 + np.arange(changed.sum())
    start_us, end_us = us_of(period.start), us_of(period.end)
    switch = rng.integers(start_us, end_us, n)
    for i in range(n):
        for uid in (first[i], second[i]):
            if uid:
                users.append({"id": int(uid), "username": f"w{uid:05d}", "full_name": f"网格员{uid:05d}",
                              "role": "grid_worker", "district_code": None, "street_code": layout.grid_codes[i][:9] + "000"})
    for u in users:
        u.update(hashed_password="x", phone=None, is_active=True, created_at=ASSIGNED_SINCE)
    conn.execute(insert(User.__table__), users)
    assignments = []
    for i in range(n):
        switch_at = to_datetimes(switch[i:i + 1])[0] if second[i] else None
        assignments.append({"grid_id": i + 1, "user_id": int(first[i]), "valid_from": ASSIGNED_SINCE,
                            "valid_to": switch_at})
        if second[i]:
            assignments.append({"grid_id": i + 1, "user_id": int(second[i]), "valid_from": switch_at, "valid_to": None})
    conn.execute(insert(GridAssignment.__table__), assignments)
    return Workers(first, second, switch, street_admin)


def insert_events(conn: Any, layout: Layout, workers: Workers, n: int, period: Period, now: datetime,
                  rng: np.random.Generator) -> dict[str, int]:
    cats = conn.execute(select(EventCategory.code, EventCategory.parent_code)).all()
    tops = list(CATEGORY_WEIGHTS)
    leaves = {t: [c for c, p in cats if p == t] for t in tops}
    n_grids = len(layout.grid_codes)
    diligence = rng.gamma(8.0, 1 / 8.0, n_grids)
    grid = rng.choice(n_grids, n, p=diligence / diligence.sum())
    start_us, now_us = us_of(period.start), us_of(now)
    days = (period.end - period.start).days
    hour = 3_600_000_000
    reported = start_us + rng.integers(0, days, n) * 24 * hour + rng.integers(int(8.5 * hour), 18 * hour, n)
    order = np.argsort(reported, kind="stable")  # ids follow reporting order, as in real life
    reported, grid = reported[order], grid[order]
    ids = np.arange(1, n + 1)
    top = rng.choice(len(tops), n, p=np.array(list(CATEGORY_WEIGHTS.values())) / sum(CATEGORY_WEIGHTS.values()))
    use_top = rng.random(n) < 0.12
    pick = rng.random(n)
    category = [tops[t] if use_top[i] or not leaves[tops[t]] else
                leaves[tops[t]][int(pick[i] * len(leaves[tops[t]]))] for i, t in enumerate(top.tolist())]
    window_days = np.array([CLOSURE_DAYS.get(t, 7.0) for t in tops])[top]
    window = (window_days * 24 * hour).astype(np.int64)
    due = reported + window

    fate = rng.random(n)
    rejected = fate < 0.03
    merged = (fate >= 0.03) & (fate < 0.045) & (ids > 1)
    stuck = (fate >= 0.045) & (fate < 0.055)  # never closed: still in an open state
    workflow = ~(rejected | merged | stuck)
    late = rng.random(n) < 0.08
    span = (window * np.where(late, rng.uniform(1.05, 2.2, n), rng.uniform(0.15, 0.95, n))).astype(np.int64)
    closed_at = reported + span
    closed = workflow & (closed_at <= now_us)
    review_at = closed_at + rng.integers(2 * hour, 72 * hour, n)
    reviewed = closed & (rng.random(n) < 0.75) & (review_at <= now_us)
    terminal_at = reported + rng.integers(hour // 2, 6 * hour, n)
    state = np.full(n, "handled", dtype=object)  # workflow events not yet closed at `now`
    state[stuck] = np.array(OPEN_STATES, dtype=object)[rng.integers(0, len(OPEN_STATES), stuck.sum())]
    state[rejected], state[merged] = "rejected", "merged"
    state[closed], state[reviewed] = "closed", "reviewed"
    updated = np.where(rejected | merged, terminal_at, np.where(reviewed, review_at, np.where(
        closed, closed_at, reported + (span * 0.8).astype(np.int64))))
    updated = np.minimum(updated, now_us)
    sat_idx = rng.choice(5, n, p=SATISFACTION[1])
    has_sat = reviewed & (rng.random(n) < 0.97)  # a few reviews without a rating
    is_open = ~(rejected | merged | closed)
    overdue = np.where(rejected | merged, False, due < np.where(closed, closed_at, now_us))
    merged_into = np.where(merged, np.maximum(1, ids - rng.integers(1, 200, n)), 0)
    reporter = workers.at(grid, reported)
    by_admin = rng.random(n) < 0.04  # some events are entered by the street office, not by a grid worker
    admin_of_grid = np.array([workers.street_admin[s] for s in layout.grid_street_code])
    reporter = np.where(by_admin, admin_of_grid[grid], reporter)
    lon = layout.grid_xy[grid, 0] + rng.uniform(0.0001, CELL_DEG - 0.0001, n)
    lat = layout.grid_xy[grid, 1] + rng.uniform(0.0001, CELL_DEG - 0.0001, n)
    acc_r = rng.random(n)
    accuracy = np.where(acc_r < 0.9, rng.uniform(3, 25, n), rng.uniform(31, 120, n)).round(1)
    no_accuracy = acc_r > 0.98
    addr_r = rng.random(n)
    desc = rng.integers(0, len(DESCRIPTIONS), n)
    photo = rng.random(n) < 0.85
    photo_keys = [f"{k:064x}" for k in range(12)]

    dt_reported, dt_due, dt_updated = to_datetimes(reported), to_datetimes(due), to_datetimes(updated)
    dt_closed = to_datetimes_nullable(closed_at, closed)
    dt_due_step = to_datetimes_nullable(updated + 24 * hour, is_open)
    step_overdue = is_open & (updated + 24 * hour < now_us)
    uid = uuids(rng, n)
    grid_id, grid_code = layout.grid_ids[grid], layout.grid_codes
    street_of_grid = layout.grid_street_code
    sats = SATISFACTION[0]

    def rows(lo: int, hi: int) -> list[dict[str, Any]]:
        out = []
        for i in range(lo, hi):
            g = int(grid[i])
            out.append({
                "id": i + 1, "uuid": uid[i], "request_hash": "bench", "category_code": category[i],
                "description": DESCRIPTIONS[desc[i]],
                "address": None if addr_r[i] < 0.08 else ("" if addr_r[i] < 0.1 else f"{grid_code[g][9:12]}社区1号楼"),
                "geom": f"SRID=4490;POINT({lon[i]:.7f} {lat[i]:.7f})", "lon": float(lon[i]), "lat": float(lat[i]),
                "source_datum": "gcj02", "gps_accuracy_m": None if no_accuracy[i] else float(accuracy[i]),
                "reporter_id": int(reporter[i]), "grid_id": int(grid_id[g]), "street_code": street_of_grid[g],
                "state": state[i], "reported_at": dt_reported[i], "created_at": dt_reported[i],
                "updated_at": dt_updated[i], "due_at": dt_due_step[i], "closure_due_at": dt_due[i],
                "step_overdue": bool(step_overdue[i]), "overdue": bool(overdue[i]), "warned_at": None,
                "closed_at": dt_closed[i], "closed_on_time": bool(closed_at[i] <= due[i]) if closed[i] else None,
                "dispatched_to": None if state[i] in ("reported", "accepted", "rejected", "merged") else "环卫站",
                "rejection_reason": "不属于网格事件受理范围" if rejected[i] else None,
                "satisfaction": sats[sat_idx[i]] if has_sat[i] else None, "possible_duplicate_of_id": None,
                "merged_into_id": int(merged_into[i]) if merged[i] else None,
                "photos": [photo_keys[i % 12]] if photo[i] else []})
        return out

    insert_rows(conn, Event.__table__, n, rows)

    # Disputes: the dispute category's extra row.
    dispute_top = tops.index("dispute")
    d_idx = np.flatnonzero(top == dispute_top)
    m = len(d_idx)
    replied_at = closed_at[d_idx] + rng.integers(0, 3 * 24 * hour, m)
    replied = closed[d_idx] & (replied_at <= now_us) & (rng.random(m) < 0.96)
    result = np.array(["success", "failure", "transferred"], dtype=object)[rng.choice(3, m, p=[0.92, 0.05, 0.03])]
    dt_reply_due = to_datetimes(reported[d_idx] + 30 * 24 * hour)
    dt_replied = to_datetimes_nullable(replied_at, replied)
    dt_mediated = to_datetimes_nullable(closed_at[d_idx], closed[d_idx])

    def dispute_rows(lo: int, hi: int) -> list[dict[str, Any]]:
        return [{"event_id": int(d_idx[j]) + 1, "street_code": street_of_grid[int(grid[d_idx[j]])],
                 "grid_id": int(grid_id[int(grid[d_idx[j]])]), "reported_at": dt_reported[d_idx[j]],
                 "parties": [{"name": "张某", "role": "申请人"}],
                 "mediation_result": result[j] if closed[d_idx[j]] else None, "mediated_at": dt_mediated[j],
                 "reply_due_at": dt_reply_due[j], "replied_at": dt_replied[j]} for j in range(lo, hi)]

    insert_rows(conn, Dispute.__table__, m, dispute_rows)
    return {"events": n, "disputes": m}


def insert_visits(conn: Any, layout: Layout, workers: Workers, n: int, period: Period,
                  rng: np.random.Generator) -> int:
    n_grids = len(layout.grid_codes)
    grid = rng.integers(0, n_grids, n)
    start_us = us_of(period.start)
    hour = 3_600_000_000
    days = (period.end - period.start).days
    started = np.sort(start_us + rng.integers(0, days, n) * 24 * hour + rng.integers(int(8.5 * hour), 17 * hour, n))
    kind = rng.random(n)
    minutes = np.where(kind < 0.04, rng.uniform(3, 9, n), rng.uniform(15, 75, n))
    outside = (kind >= 0.04) & (kind < 0.07)
    counted = ~((kind < 0.04) | outside)
    no_grid = outside & (rng.random(n) < 0.5)  # most points outside every grid: no main grid
    worker = workers.at(grid, started)
    ended = started + (minutes * 60_000_000).astype(np.int64)
    dt_started, dt_ended = to_datetimes(started), to_datetimes(ended)
    uid = uuids(rng, n)
    x = layout.grid_xy[grid, 0][:, None] + rng.uniform(0.0001, CELL_DEG - 0.0001, (n, 2))
    y = layout.grid_xy[grid, 1][:, None] + rng.uniform(0.0001, CELL_DEG - 0.0001, (n, 2))
    streets = layout.grid_street_code

    def rows(lo: int, hi: int) -> list[dict[str, Any]]:
        out = []
        for i in range(lo, hi):
            g = int(grid[i])
            pts = [{"lon": round(float(x[i, k]), 7), "lat": round(float(y[i, k]), 7), "at": None} for k in range(2)]
            out.append({
                "uuid": uid[i], "request_hash": "bench", "worker_id": int(worker[i]), "street_code": streets[g],
                "grid_id": None if no_grid[i] else int(layout.grid_ids[g]), "started_at": dt_started[i],
                "ended_at": dt_ended[i],
                "geom": f"SRID=4490;MULTIPOINT(({pts[0]['lon']} {pts[0]['lat']}),({pts[1]['lon']} {pts[1]['lat']}))",
                "points": pts, "households": ["3栋"], "notes": None, "photos": [], "counted": bool(counted[i]),
                "not_counted_reason": None if counted[i] else ("too_short" if kind[i] < 0.04 else "outside_assigned_grids"),
                "not_counted_detail": None, "created_at": dt_ended[i]})
        return out

    insert_rows(conn, Visit.__table__, n, rows)
    return n


def insert_devices(conn: Any, layout: Layout, n: int, period: Period, rng: np.random.Generator) -> dict[str, int]:
    """Devices with a status history: online, with outages (Poisson 8/year, mostly hours, some days)."""
    kinds = np.array(["camera", "access_controller", "link", "terminal"], dtype=object)
    kind = kinds[rng.choice(4, n, p=[0.7, 0.15, 0.075, 0.075])]
    n_grids = len(layout.grid_codes)
    grid = rng.integers(0, n_grids, n)
    no_grid = rng.random(n) < 0.03
    hour = 3_600_000_000
    start_us, end_us = us_of(period.start), us_of(period.end)
    before = us_of(datetime(period.start.year - 1, 3, 1, tzinfo=UTC))
    late_install = rng.random(n) < 0.1
    installed = np.where(late_install, rng.integers(start_us, end_us - 30 * 24 * hour, n), before)
    retired = (rng.random(n) < 0.02) & ~late_install
    retired_at = rng.integers(start_us + 30 * 24 * hour, end_us, n)
    dt_installed, dt_retired = to_datetimes(installed), to_datetimes_nullable(retired_at, retired)
    devices = []
    for i in range(n):
        devices.append({"id": i + 1, "code": f"BENCH{i + 1:06d}", "gb_code": None, "name": f"设备{i + 1}",
                        "kind": kind[i], "location": None, "grid_id": None if no_grid[i] else int(layout.grid_ids[grid[i]]),
                        "address": None, "owner_unit": None, "installed_at": dt_installed[i], "retired_at": dt_retired[i],
                        "heartbeat_interval_s": 60, "secret_hash": None, "created_at": dt_installed[i]})
    # Outages: sorted starts within [installed, period end), durations exponential (mean 5 h) + 5 % multi-day.
    counts = rng.poisson(8, n)
    dev = np.repeat(np.arange(n), counts)
    lo = np.maximum(installed, start_us)[dev]
    hi = np.where(retired, retired_at, end_us)[dev]
    s = lo + (rng.random(len(dev)) * (hi - lo)).astype(np.int64)
    order = np.lexsort((s, dev))
    dev, s, hi = dev[order], s[order], hi[order]
    dur = (rng.exponential(5 * hour, len(dev)) * np.where(rng.random(len(dev)) < 0.05, 20, 1)).astype(np.int64)
    nxt = np.append(s[1:], np.iinfo(np.int64).max)
    same_next = np.append(dev[1:] == dev[:-1], False)
    e = np.minimum(s + dur + 60_000_000, np.where(same_next, nxt - 60_000_000, hi))
    keep = e > s
    dev, s, e = dev[keep], s[keep], e[keep]
    intervals: list[tuple[int, str, int, int | None]] = []
    bounds = np.searchsorted(dev, np.arange(n + 1))
    last_since = np.zeros(n, np.int64)
    for i in range(n):
        t = int(installed[i])
        for j in range(bounds[i], bounds[i + 1]):
            intervals.append((i + 1, "online", t, int(s[j])))
            intervals.append((i + 1, "offline", int(s[j]), int(e[j])))
            t = int(e[j])
        intervals.append((i + 1, "online", t, int(retired_at[i]) if retired[i] else None))
        last_since[i] = t
    dt_since = to_datetimes(last_since)
    states = [{"device_id": i + 1, "status": "offline" if retired[i] else "online", "status_since": dt_since[i],
               "online_until": None, "last_seen_at": None, "last_ts": None, "last_seq": None, "heartbeats": 0,
               "messages": 0, "recent_keys": None} for i in range(n)]
    conn.execute(insert(Device.__table__), devices)
    conn.execute(insert(DeviceState.__table__), states)
    starts = np.array([iv[2] for iv in intervals], np.int64)
    ends = np.array([iv[3] if iv[3] is not None else 0 for iv in intervals], np.int64)
    dt_s = to_datetimes(starts)
    dt_e = to_datetimes_nullable(ends, np.array([iv[3] is not None for iv in intervals]))

    def interval_rows(lo_: int, hi_: int) -> list[dict[str, Any]]:
        return [{"device_id": intervals[k][0], "status": intervals[k][1], "start_at": dt_s[k], "end_at": dt_e[k],
                 "reason": "heartbeat"} for k in range(lo_, hi_)]

    insert_rows(conn, DeviceStatusInterval.__table__, len(intervals), interval_rows)
    maint = np.flatnonzero(rng.random(n) < 0.05)
    m_start = start_us + (rng.random(len(maint)) * (end_us - start_us - 48 * hour)).astype(np.int64)
    m_end = m_start + rng.integers(4 * hour, 48 * hour, len(maint))
    ms, me = to_datetimes(m_start), to_datetimes(m_end)
    if len(maint):
        conn.execute(insert(DeviceMaintenance.__table__), [
            {"device_id": int(d) + 1, "start_at": ms[k], "end_at": me[k], "reason": "检修", "created_by": "bench",
             "created_at": ms[k]} for k, d in enumerate(maint)])
    return {"devices": n, "status_intervals": len(intervals), "maintenance": len(maint)}


# ---------------------------------------------------------------------------------------------
# (a) SQL aggregates through the service, (b) the naive Python baseline


Values = dict[tuple[str, str], tuple[float, float, float | None]]  # (scope, code) → (num, den, value)


def run_batch(engine: Engine, scopes: list[Scope], codes: list[str], period: Period, now: datetime
              ) -> tuple[Values, float]:
    """Every (scope, code) in one service.compute_many call: what a board or a self-evaluation asks."""
    with Session(engine) as s:
        t0 = time.perf_counter()
        got = service.compute_many(db_session=s, scopes=scopes, codes=codes, period=period, now=now)
        secs = time.perf_counter() - t0
    return {(str(sc), code): (v.numerator, v.denominator, v.value) for (sc, code), v in got.items()}, secs


def run_per_value(engine: Engine, scopes: list[Scope], codes: list[str], period: Period, now: datetime
                  ) -> tuple[Values, float, dict[str, float]]:
    """Every (scope, code) one service.compute call at a time (the API's one-value endpoint); also
    the seconds spent per code."""
    out: Values = {}
    per_code = dict.fromkeys(codes, 0.0)
    with Session(engine) as s:
        t0 = time.perf_counter()
        for sc in scopes:
            for code in codes:
                t = time.perf_counter()
                v = service.compute(db_session=s, code=code, scope=sc, period=period, now=now)
                per_code[code] += time.perf_counter() - t
                out[(str(sc), code)] = (v.numerator, v.denominator, v.value)
        return out, time.perf_counter() - t0, per_code


def analyze_after_load(engine: Engine) -> None:
    """VACUUM ANALYZE on PostgreSQL, as autovacuum would after a bulk load (VACUUM cannot run in a
    transaction); plain ANALYZE on SQLite."""
    if engine.dialect.name == "sqlite":
        analyze(engine)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")


def _ratio(num: float, den: float, scale: float = 100.0) -> tuple[float, float, float | None]:
    return float(num), float(den), (round(num / den * scale, 4) if den else None)


# The quality rule's checks (server.indicators.quality.CHECKS) as a Python developer writes them.
PY_CHECKS: dict[str, Callable[..., bool]] = {
    "description_min_chars": lambda n, desc, photos, acc, addr, cat: len(desc) >= int(n),
    "has_photo": lambda _, desc, photos, acc, addr, cat: len(photos) > 0,
    "gps_accuracy_max_m": lambda m, desc, photos, acc, addr, cat: acc is not None and acc <= float(m),
    "has_address": lambda _, desc, photos, acc, addr, cat: bool(addr),
    "subcategory": lambda _, desc, photos, acc, addr, cat: "." in cat,
}


@dataclass
class Reference:
    """Small tables a developer would load once: grid codes and user roles."""

    grid_code: dict[int, str]
    role: dict[int, str]


@dataclass
class Rows:
    """The rows a scope's indicators are counted from; each row starts with (street code, grid id)
    (assignments: the grid's code), so the one-pass baseline can split the district's rows by scope."""

    events: list[Any]
    visits: list[Any]
    assignments: list[Any]
    disputes: list[Any]


def load_rows(s: Session, ref: Reference, sc: Scope | None, period: Period) -> Rows:
    """The period's rows of one scope (None: of every scope), one SELECT per table."""
    prefix = sc.prefix if sc else ""
    grid_ids = [gid for gid, code in ref.grid_code.items() if code.startswith(prefix)]

    def where_scope(street_col: Any, grid_col: Any) -> Any:  # same attribution rule as the documented one
        if sc is None:
            return True
        return street_col.startswith(prefix) if sc.level in ("district", "street") else grid_col.in_(grid_ids)

    start, end = period.start, period.end
    return Rows(
        events=s.execute(select(
            Event.street_code, Event.grid_id, Event.state, Event.closed_at, Event.closed_on_time, Event.satisfaction,
            Event.reporter_id, Event.reported_at, Event.description, Event.photos, Event.gps_accuracy_m,
            Event.address, Event.category_code).where(
            where_scope(Event.street_code, Event.grid_id), Event.reported_at >= start,
            Event.reported_at < end)).all(),
        visits=s.execute(select(Visit.street_code, Visit.grid_id, Visit.counted).where(
            where_scope(Visit.street_code, Visit.grid_id), Visit.started_at >= start,
            Visit.started_at < end)).all(),
        assignments=s.execute(select(Grid.code, GridAssignment.user_id, GridAssignment.valid_from,
                                     GridAssignment.valid_to)
                              .join(Grid, Grid.id == GridAssignment.grid_id)
                              .where(Grid.code.startswith(prefix))).all(),
        disputes=s.execute(select(Event.street_code, Event.grid_id, Dispute.mediation_result, Dispute.reply_due_at,
                                  Dispute.replied_at)
                           .join(Event, Event.id == Dispute.event_id)
                           .where(where_scope(Event.street_code, Event.grid_id), Event.reported_at >= start,
                                  Event.reported_at < end)).all())


Buckets = dict[bool, dict[str, Rows]]  # by street code (True) or by grid code (False) → rows


def bucket_rows(ref: Reference, rows: Rows) -> Buckets:
    """Rows loaded for all scopes, put once under their street code and under their grid code."""
    out: Buckets = {True: defaultdict(lambda: Rows([], [], [], [])), False: defaultdict(lambda: Rows([], [], [], []))}
    for table in ("events", "visits", "disputes"):
        for r in getattr(rows, table):
            if r[0] is not None:
                getattr(out[True][r[0]], table).append(r)
            if (code := ref.grid_code.get(r[1])) is not None:
                getattr(out[False][code], table).append(r)
    for r in rows.assignments:
        out[True][r[0]].assignments.append(r)  # assignments go by grid code at every level
        out[False][r[0]].assignments.append(r)
    return out


def gather(buckets: Buckets, sc: Scope) -> Rows:
    """A scope's rows: the buckets under its prefix, by the same attribution rule."""
    by_street = sc.level in ("district", "street")
    got = Rows([], [], [], [])
    for key, part in buckets[by_street].items():
        if key.startswith(sc.prefix):
            got.events += part.events
            got.visits += part.visits
            got.disputes += part.disputes
    got.assignments = [r for key, part in buckets[False].items() if key.startswith(sc.prefix) for r in part.assignments]
    return got


def naive_values(ref: Reference, sc: Scope, rows: Rows, period: Period, now: datetime) -> Values:
    """The indicators of a scope counted in Python from its rows."""
    end = period.end
    closed = on_time = cases = rated = satisfied = reports = 0
    good = {x.value for x in SATISFIED}
    months = period.months()
    month_starts = [m.start for m in months]
    score30: list[list[float]] = [[0.0, 0] for _ in months]
    score60: list[list[float]] = [[0.0, 0] for _ in months]
    rules = ((load_rule(), score30), (load_rule(str(RULE_60)), score60))
    for _, _, st, closed_at, cot, sat, reporter, reported_at, desc, photos, acc, addr, cat in rows.events:
        if ref.role.get(reporter) == "grid_worker":
            reports += 1
        k = bisect_right(month_starts, reported_at) - 1
        for rule, acc_ in rules:
            acc_[k][0] += sum(points for check, value, points, _ in rule.criteria
                              if PY_CHECKS[check](value, desc, photos, acc, addr, cat))
            acc_[k][1] += 1
        if st in ("rejected", "merged"):
            continue
        cases += 1
        if closed_at is not None and closed_at < end:
            closed += 1
            if cot:
                on_time += 1
        if sat is not None:
            rated += 1
            satisfied += sat in good
    out: Values = {}
    key = str(sc)
    out[(key, "closure_rate")] = _ratio(closed, cases)
    out[(key, "on_time_closure_rate")] = _ratio(on_time, cases)
    out[(key, "satisfaction")] = _ratio(satisfied, rated)
    for code, acc_ in (("quality_score", score30), ("quality_score_60", score60)):
        avgs = [total / count for total, count in acc_ if count]
        out[(key, code)] = _ratio(sum(avgs), len(avgs), 1.0)

    counted_visits = sum(1 for *_, c in rows.visits if c)
    wm = 0.0
    for m in months:
        m_end = min(m.end, now)
        if m_end <= m.start:
            continue
        whole = parse_period(m.label)
        users = {u for _, u, vf, vt in rows.assignments if ref.role.get(u) == "grid_worker" and vf < m_end
                 and (vt is None or vt > m.start)}
        wm += len(users) * (m_end - m.start).total_seconds() / (whole.end - whole.start).total_seconds()
    out[(key, "reports_per_worker_month")] = _ratio(reports, wm, 1.0)
    out[(key, "visits_per_worker_month")] = _ratio(counted_visits, wm, 1.0)

    med = [r for _, _, r, _, _ in rows.disputes if r is not None]
    out[(key, "mediation_success_rate")] = _ratio(sum(r == "success" for r in med), len(med))
    due_or_replied = ok = 0
    for _, _, _, due, rep in rows.disputes:
        replied = rep is not None and rep <= now
        if due < now or replied:
            due_or_replied += 1
            ok += replied and rep <= due
    out[(key, "dispute_reply_within_30_days_rate")] = _ratio(ok, due_or_replied)
    return out


def run_naive(engine: Engine, scopes: list[Scope], period: Period, now: datetime, once: bool = False
              ) -> tuple[Values, float]:
    """What one writes first: each scope's rows selected, then counted in Python; once=True loads
    every row a single time, buckets it by street and grid, and gives each scope the buckets under
    its prefix (what the SQL path does, in Python)."""
    out: Values = {}
    with Session(engine) as s:
        t0 = time.perf_counter()
        ref = Reference(dict(s.execute(select(Grid.id, Grid.code)).all()),
                        dict(s.execute(select(User.id, User.role)).all()))
        buckets = bucket_rows(ref, load_rows(s, ref, None, period)) if once else None
        for sc in scopes:
            rows = gather(buckets, sc) if buckets else load_rows(s, ref, sc, period)
            out.update(naive_values(ref, sc, rows, period, now))
        return out, time.perf_counter() - t0


def compare(a: Values, b: Values, codes: list[str]) -> tuple[int, int, list[str]]:
    checked, bad = 0, []
    for k, (n1, d1, v1) in a.items():
        if k[1] not in codes:
            continue
        checked += 1
        n2, d2, v2 = b[k]
        same = math.isclose(n1, n2, rel_tol=1e-9, abs_tol=1e-9) and math.isclose(d1, d2, rel_tol=1e-9, abs_tol=1e-9) \
            and (v1 == v2 or (v1 is not None and v2 is not None and math.isclose(v1, v2, abs_tol=1e-4)))
        if not same:
            bad.append(f"{k[0]} {k[1]}: SQL {n1}/{d1}={v1}  naive {n2}/{d2}={v2}")
    return checked, len(bad), bad


# ---------------------------------------------------------------------------------------------
# Devices: the service per scope, checked against one pass over all intervals


def run_devices_service(engine: Engine, scopes: list[Scope], period: Period, now: datetime) -> tuple[Values, float]:
    # server.devices.rates cuts the period at its own wall clock; pin it to the bench's evaluation
    # moment so the year is complete and both computations use the same end.
    rates_module.utcnow = lambda: now  # type: ignore[attr-defined]
    with Session(engine) as s:
        t0 = time.perf_counter()
        got = service.compute_many(db_session=s, scopes=scopes, codes=list(DEVICE_CODES), period=period, now=now)
        secs = time.perf_counter() - t0
    return {(str(sc), code): (v.numerator, v.denominator, v.value) for (sc, code), v in got.items()}, secs


def run_devices_once(engine: Engine, scopes: list[Scope], period: Period, now: datetime) -> tuple[Values, float]:
    """Load every device and interval once, availability per device, then sum per scope."""
    lo, hi = period.start, min(period.end, now)
    out: Values = {}
    with Session(engine) as s:
        t0 = time.perf_counter()
        grid_code = dict(s.execute(select(Grid.id, Grid.code)).all())
        devs = s.execute(select(Device.id, Device.kind, Device.grid_id, Device.installed_at, Device.retired_at).where(
            or_(Device.retired_at.is_(None), Device.retired_at > lo),
            or_(Device.installed_at.is_(None), Device.installed_at < hi))).all()
        spans: dict[int, list[Span]] = defaultdict(list)
        for d, a, b in s.execute(select(DeviceStatusInterval.device_id, DeviceStatusInterval.start_at,
                                        DeviceStatusInterval.end_at).where(
                DeviceStatusInterval.status == "online", DeviceStatusInterval.start_at < hi,
                or_(DeviceStatusInterval.end_at.is_(None), DeviceStatusInterval.end_at > lo))):
            spans[d].append(Span(a, b))
        maint: dict[int, list[Span]] = defaultdict(list)
        for d, a, b in s.execute(select(DeviceMaintenance.device_id, DeviceMaintenance.start_at,
                                        DeviceMaintenance.end_at).where(
                DeviceMaintenance.start_at < hi, DeviceMaintenance.end_at > lo)):
            maint[d].append(Span(a, b))
        per = []  # (kind, grid code or NO_GRID, num, den)
        for d, kind, gid, inst, ret in devs:
            if kind not in DEVICE_CODES.values():
                continue
            r = device_availability(DeviceRecord(inst, ret, spans.get(d, ()), maint.get(d, ())), lo, hi)
            per.append((kind, grid_code.get(gid, NO_GRID), r.numerator, r.denominator))
        for sc in scopes:
            for code, kind in DEVICE_CODES.items():
                rows = [(n, d) for k, g, n, d in per if k == kind and
                        (g.startswith(sc.prefix) or (g == NO_GRID and sc.level == "district"))]
                out[(str(sc), code)] = _ratio(sum(n for n, _ in rows), sum(d for _, d in rows))
        return out, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Query plans


@contextmanager
def capture(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return [r[3] for r in cur.fetchall()]
        cur.execute("EXPLAIN (COSTS OFF) " + statement, parameters)
        keep = ("->", "Index Cond")  # plan nodes and index conditions; filters are the WHERE clause again
        lines = [r[0] for r in cur.fetchall()]
        return lines[:1] + [ln.replace("->", "").strip() for ln in lines[1:] if any(k in ln for k in keep)]
    finally:
        raw.close()


def print_plans(engine: Engine, scopes: list[Scope], period: Period, now: datetime) -> None:
    samples = [next(sc for sc in scopes if sc.level == lvl) for lvl in ("district", "street", "community", "grid")
               if any(sc.level == lvl for sc in scopes)]
    print("  query plans (first statement of each indicator; seconds = that indicator for that one scope):")
    for code in ("closure_rate", "reports_per_worker_month", "visits_per_worker_month"):
        for sc in samples:
            with capture(engine) as seen, Session(engine) as s:
                t0 = time.perf_counter()
                service.compute(db_session=s, code=code, scope=sc, period=period, now=now)
                dt = time.perf_counter() - t0
            plan = explain(engine, *seen[0])
            print(f"    {code} {sc.level} ({len(seen)} statements, {dt:.3f} s): " + " | ".join(p.strip() for p in plan))


# ---------------------------------------------------------------------------------------------
# Back ends


@dataclass
class Backend:
    name: str
    url: str
    cleanup: Callable[[], None]
    versions: str


def sqlite_backend(keep: bool) -> Backend:
    tmp = tempfile.mkdtemp(prefix="gridops-bench-ind-")
    url = f"sqlite:///{tmp}/bench.db"
    eng = make_engine(url)
    with eng.connect() as c:
        sv = c.execute(text("SELECT sqlite_version(), spatialite_version()")).one()
    eng.dispose()
    return Backend("SpatiaLite", url, (lambda: None) if keep else (lambda: shutil.rmtree(tmp, ignore_errors=True)),
                   f"SQLite {sv[0]}, SpatiaLite {sv[1]} (file in {tmp})")


def postgis_backend(pg_url: str, keep: bool) -> Backend:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
        pg_version = c.execute(text("SHOW server_version")).scalar()
    url = make_url(pg_url).set(database=PG_DATABASE).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        admin.dispose()

    return Backend("PostGIS", url, (lambda: admin.dispose()) if keep else drop, f"PostgreSQL {pg_version}")


def run_backend(be: Backend, args: argparse.Namespace, layout: Layout, scopes: list[Scope], codes: list[str],
                period: Period, now: datetime, with_devices: bool) -> dict[str, Any]:
    print(f"\n== {be.name}: {be.versions}")
    t0 = time.perf_counter()
    upgrade(be.url)
    engine = make_engine(be.url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            be.versions += f", PostGIS {c.execute(text('SELECT postgis_lib_version()')).scalar()}"
        print(f"   {be.versions}")
    t_migrate = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    n_visits = round(args.visits_per_worker_month * len(layout.grid_codes) * 12)
    t0 = time.perf_counter()
    create_divisions(engine, layout)
    counts: dict[str, int] = {}
    timing: dict[str, float] = {}
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite:  # bulk-load settings for this connection only; restored below
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
            # Updating the R*Tree row by row costs ~40 % of the insert: fill it once after the load.
            conn.exec_driver_sql("SELECT DisableSpatialIndex('event', 'geom')")
            conn.exec_driver_sql("DROP TABLE idx_event_geom")
        index_ddl = drop_secondary_indexes(conn)
        t = time.perf_counter()
        workers = insert_grids_and_users(conn, layout, period, rng)
        timing["grids+users"] = time.perf_counter() - t
        t = time.perf_counter()
        counts.update(insert_events(conn, layout, workers, args.events, period, now, rng))
        timing["events+disputes"] = time.perf_counter() - t
        t = time.perf_counter()
        counts["visits"] = insert_visits(conn, layout, workers, n_visits, period, rng)
        timing["visits"] = time.perf_counter() - t
        if with_devices:
            t = time.perf_counter()
            counts.update(insert_devices(conn, layout, args.devices, period, rng))
            timing["devices"] = time.perf_counter() - t
        t = time.perf_counter()
        recreate_indexes(conn, index_ddl)
        if sqlite:
            conn.exec_driver_sql("SELECT CreateSpatialIndex('event', 'geom')")
            conn.exec_driver_sql("PRAGMA cache_size=-2000")
        timing["indexes"] = time.perf_counter() - t
    if not sqlite or args.sqlite_analyze:
        t = time.perf_counter()
        analyze_after_load(engine)
        timing["analyze"] = time.perf_counter() - t
    t_gen = time.perf_counter() - t0
    print(f"   migrate {t_migrate:.1f} s; generate + insert {t_gen:.1f} s ("
          + ", ".join(f"{k} {v:.1f} s" for k, v in timing.items()) + ")")
    print("   rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    res: dict[str, Any] = {"name": be.name}
    stats = "planner statistics: " + ("ANALYZE after the load" if not sqlite or args.sqlite_analyze else
                                      "none (as before the first `gridops db analyze`)")
    sql, res["sql_s"] = run_batch(engine, scopes, codes, period, now)
    print(f"   (a) SQL aggregates, all scopes at once (service.compute_many): {res['sql_s']:.2f} s for "
          f"{len(scopes)} scopes × {len(codes)} indicators = {len(sql)} values; {stats}")
    if args.per_value:
        one, res["per_value_s"], per_code = run_per_value(engine, scopes, codes, period, now)
        checked, nbad, _ = compare(sql, one, codes)
        print(f"   (a') SQL aggregates, one value at a time (service.compute): {res['per_value_s']:.2f} s "
              f"({1000 * res['per_value_s'] / max(1, len(one)):.1f} ms each); values {checked - nbad}/{checked} "
              f"identical to (a)")
        print("        by indicator: " + ", ".join(f"{c} {v:.1f}" for c, v in per_code.items()))
    if not args.skip_naive:
        naive, res["naive_s"] = run_naive(engine, scopes, period, now)
        once, res["once_s"] = run_naive(engine, scopes, period, now, once=True)
        checked, nbad, bad = compare(sql, naive, codes)
        checked2, nbad2, bad2 = compare(sql, once, codes)
        res["match"] = nbad == 0 and nbad2 == 0
        print(f"   (b) naive (rows into Python per scope): {res['naive_s']:.2f} s;  ratio naive ÷ SQL = "
              f"{res['naive_s'] / res['sql_s']:.2f}")
        print(f"   (c) every row into Python once, bucketed by street and grid there: {res['once_s']:.2f} s;  ratio (c) ÷ SQL = "
              f"{res['once_s'] / res['sql_s']:.2f}")
        print(f"   values: (b) {checked - nbad}/{checked}, (c) {checked2 - nbad2}/{checked2} identical to (a)"
              + ("" if not bad + bad2 else "; MISMATCHES:"))
        for line in (bad + bad2)[:20]:
            print("     " + line)
    if with_devices:
        dsvc, res["dev_service_s"] = run_devices_service(engine, scopes, period, now)
        donce, res["dev_once_s"] = run_devices_once(engine, scopes, period, now)
        checked, nbad, bad = compare(dsvc, donce, list(DEVICE_CODES))
        res["dev_match"] = nbad == 0
        print(f"   devices ({len(scopes)} scopes × {len(DEVICE_CODES)} online rates): service.compute_many "
              f"{res['dev_service_s']:.2f} s; one pass "
              f"over all devices and intervals, then sums per scope {res['dev_once_s']:.2f} s; values "
              f"{checked - nbad}/{checked} identical")
        for line in bad[:10]:
            print("     " + line)
    if args.explain:
        print_plans(engine, scopes, period, now)
    if sqlite and not args.sqlite_analyze and args.then_analyze:
        t = time.perf_counter()
        analyze(engine)
        print(f"   ANALYZE (planner statistics) {time.perf_counter() - t:.1f} s, then again:")
        sql2, res["sql_analyzed_s"] = run_batch(engine, scopes, codes, period, now)
        line = f"   (a) all scopes at once {res['sql_analyzed_s']:.2f} s (was {res['sql_s']:.2f} s)"
        if args.per_value:
            one, res["per_value_analyzed_s"], _ = run_per_value(engine, scopes, codes, period, now)
            line += f"; (a') one value at a time {res['per_value_analyzed_s']:.2f} s (was {res['per_value_s']:.2f} s)"
        checked, nbad, _ = compare(sql, sql2, codes)
        print(line + f"; values {checked - nbad}/{checked} unchanged")
        if args.explain:
            print_plans(engine, scopes, period, now)
    engine.dispose()
    return res


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import sqlite3
    period = parse_period(str(args.year))
    now = period.end + timedelta(days=30)
    layout = make_layout(args.grids)
    scopes = scopes_for(layout, args.scopes)
    codes = [c for c in service.COMPUTABLE if c in EVENT_VISIT_CODES]
    with_devices = args.devices > 0 and DEVICES_ERROR is None
    print("gridops indicator benchmark: SQL aggregates vs rows into Python")
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
          f"sqlite3 module SQLite {sqlite3.sqlite_version}, numpy {np.__version__}")
    print(f"district {DISTRICT}: {len(layout.streets)} streets, {len(layout.communities)} communities, "
          f"{len(layout.grid_codes)} grids; year {args.year} evaluated at {now:%Y-%m-%d} (UTC)")
    print(f"scopes ({args.scopes}): {len(scopes)} = " + ", ".join(
        f"{sum(sc.level == lvl for sc in scopes)} {lvl}" for lvl in ("district", "street", "community", "grid")
        if any(sc.level == lvl for sc in scopes)))
    print(f"indicators ({len(codes)}): {', '.join(codes)}")
    if with_devices:
        print(f"device indicators ({len(DEVICE_CODES)}): {', '.join(DEVICE_CODES)}")
    elif DEVICES_ERROR:
        print(f"devices skipped: server.devices does not import ({DEVICES_ERROR})")
    else:
        print("devices skipped (--devices 0)")
    skipped = [c for c in service.COMPUTABLE if c not in codes and c not in DEVICE_CODES]
    if skipped:
        print(f"not benchmarked (no event/visit data behind them): {', '.join(skipped)}")
    backends = ["sqlite", "postgis"] if args.backend == "both" else [args.backend]
    results = []
    for name in backends:
        be = sqlite_backend(args.keep) if name == "sqlite" else postgis_backend(args.pg_url, args.keep)
        try:
            results.append(run_backend(be, args, layout, scopes, codes, period, now, with_devices))
        finally:
            be.cleanup()
    print("\nsummary (seconds for all scopes × indicators):")
    for r in results:
        line = f"  {r['name']:<10} SQL {r['sql_s']:7.2f}"
        if "naive_s" in r:
            line += f"   naive {r['naive_s']:7.2f}   naive ÷ SQL {r['naive_s'] / r['sql_s']:5.2f}   " \
                    f"rows once {r['once_s']:7.2f} ({r['once_s'] / r['sql_s']:.2f})   " \
                    f"values {'identical' if r['match'] else 'DIFFER'}"
        if "per_value_s" in r:
            line += f"   one value at a time {r['per_value_s']:7.2f}"
        if "sql_analyzed_s" in r:
            line += f"   after ANALYZE: SQL {r['sql_analyzed_s']:.2f}"
            if "per_value_analyzed_s" in r:
                line += f", one value at a time {r['per_value_analyzed_s']:.2f}"
        if "dev_service_s" in r:
            line += f"   devices service {r['dev_service_s']:.2f} / one pass {r['dev_once_s']:.2f} " \
                    f"({'identical' if r['dev_match'] else 'DIFFER'})"
        print(line)
    ok = all(r.get("match", True) and r.get("dev_match", True) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
