"""Benchmark the monthly worker assessment: 2,000 workers with a year of demo-scale data, the whole
district at once (server.assessment.compute, set-based) against worker by worker.

Run:  .venv/bin/python bench/bench_assessment.py [--backend sqlite|postgis|both] [--workers 2000]
          [--baseline-sample 200] [--pg-url postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_assess]

Each back end gets a fresh database (a temp dir for SQLite; for PostGIS the database named in
--pg-url is emptied: give it one of its own), migrated with server.database.migrate.upgrade. The
district has 10 streets × 10 communities × (workers / 100) grids, one worker per grid. A year
(November 2025 – October 2026) of data at the demo's rates per worker-month is bulk inserted with
SQLAlchemy Core: ~4.3 events (70 % dispatched, with their event_history row; 85 % closed), ~21
visits (90 % counted, 4 % rejected as outside the grid), two key persons per grid (monthly and
quarterly follow-up) with their updates. In October 5 % of the workers move to the next grid on
the 16th and 2 % start on the 20th (leave before), so assignment parts are exercised.

Timed: October 2026 as of 20 November 2026, (a) every worker of the district in one compute()
call; (b) compute() for one worker at a time over a sample (--baseline-sample, 0 = every worker)
and extrapolated to all. The sampled workers' rows must be identical both ways.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRIDOPS_SECRET_KEY", "bench-secret-key-with-at-least-32-bytes!")

from _harness import bench_parser, for_each_backend  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from server.assessment.compute import compute  # noqa: E402
from server.assessment.rule import current_rule  # noqa: E402
from server.auth.models import User  # noqa: E402
from server.database.core import make_engine  # noqa: E402
from server.database.migrate import upgrade  # noqa: E402
from server.divisions import service as divisions  # noqa: E402
from server.events.models import Event, EventHistory  # noqa: E402
from server.grids.models import Grid, GridAssignment  # noqa: E402
from server.indicators.periods import TZ, parse_period  # noqa: E402
from server.keypersons.models import KeyPerson, KeyPersonUpdate  # noqa: E402
from server.visits.models import Visit  # noqa: E402

DISTRICT = "440112"
MONTH = "2026-10"
NOW = datetime(2026, 11, 20, 2, tzinfo=UTC)
YEAR_START = datetime(2025, 11, 1, tzinfo=TZ).astimezone(UTC)
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
CELL = 0.004  # degrees
BATCH = 5000
EVENTS_PER_MONTH, VISITS_PER_MONTH = 4.3, 21.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir; postgis = the database at --pg-url")
    p.add_argument("--workers", type=int, default=2000, help="workers (= grids), a multiple of 100")
    p.add_argument("--baseline-sample", type=int, default=200, help="workers computed one by one (0: all)")
    p.add_argument("--pg-url", default="postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_assess")
    p.add_argument("--seed", type=int, default=16)
    args = p.parse_args(argv)
    if args.workers < 100 or args.workers % 100:
        p.error("--workers must be a positive multiple of 100")
    return args


def _batches(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for lo in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[lo:lo + BATCH])


def _uuid(i: int, kind: int) -> str:
    return f"{kind:08x}-0000-4000-a000-{i:012x}"


def load(url: str, n: int, rng: np.random.Generator) -> dict[str, int]:
    """The district, its grids and workers, and a year of their records."""
    engine = make_engine(url)
    per_community = n // 100
    with Session(engine) as s, s.begin():
        divisions.create_district(db_session=s, code=DISTRICT, name="黄埔区")
        for st in range(1, 11):
            street = f"{DISTRICT}{st:03d}000"
            divisions.create_street(db_session=s, code=street, name=f"第{st}街道", district_code=DISTRICT)
            for c in range(1, 11):
                divisions.create_community(db_session=s, code=f"{street[:9]}{c:03d}", name=f"社区{st}-{c}",
                                           street_code=street)
    counts: dict[str, int] = {}
    oct_start = parse_period(MONTH).start
    move_at, start_at = oct_start + timedelta(days=15), oct_start + timedelta(days=19)
    with engine.begin() as conn:
        communities = dict(conn.execute(text("SELECT code, id FROM community")).all())
        grids, users, assignments = [], [], []
        for i in range(n):
            community = f"{DISTRICT}{i // (per_community * 10) + 1:03d}{(i // per_community) % 10 + 1:03d}"
            x, y = 113.3 + (i % 50) * CELL, 23.0 + (i // 50) * CELL
            grids.append({"id": i + 1, "code": f"{community}{i % per_community + 1:03d}", "name": f"网格{i + 1}",
                          "grid_type": "comprehensive", "community_id": communities[community],
                          "geom": f"SRID=4490;MULTIPOLYGON((({x} {y},{x + CELL} {y},{x + CELL} {y + CELL},"
                                  f"{x} {y + CELL},{x} {y})))", "area_m2": 180000.0, "valid_from": SINCE,
                          "created_at": SINCE})
            users.append({"id": i + 1, "username": f"w{i + 1:05d}", "full_name": f"网格员{i + 1}", "hashed_password": "x",
                          "role": "grid_worker", "district_code": DISTRICT, "street_code": community[:9] + "000",
                          "full_time": True, "created_at": SINCE})
            r = rng.random()
            if r < 0.05:  # moves to the next grid on 16 October
                assignments += [{"grid_id": i + 1, "user_id": i + 1, "valid_from": SINCE, "valid_to": move_at},
                                {"grid_id": (i + 1) % n + 1, "user_id": i + 1, "valid_from": move_at, "valid_to": None}]
            elif r < 0.07:  # back from leave on 20 October
                assignments += [{"grid_id": i + 1, "user_id": i + 1, "valid_from": SINCE, "valid_to": oct_start},
                                {"grid_id": i + 1, "user_id": i + 1, "valid_from": start_at, "valid_to": None}]
            else:
                assignments.append({"grid_id": i + 1, "user_id": i + 1, "valid_from": SINCE, "valid_to": None})
        users.append({"id": n + 1, "username": "admin", "full_name": "管理员", "hashed_password": "x",
                      "role": "district_admin", "district_code": DISTRICT, "street_code": None, "full_time": None,
                      "created_at": SINCE})
        _batches(conn, Grid.__table__, grids)
        _batches(conn, User.__table__, users)
        _batches(conn, GridAssignment.__table__, assignments)
        year_s = (parse_period(MONTH).end - YEAR_START).total_seconds()
        n_events = int(rng.poisson(EVENTS_PER_MONTH * 12, n).sum())
        who = rng.integers(0, n, n_events)
        reported = [YEAR_START + timedelta(seconds=float(s)) for s in rng.uniform(0, year_s, n_events)]
        closed = rng.random(n_events) < 0.85
        close_days = rng.uniform(0.5, 9, n_events)
        events, history = [], []
        for k in range(n_events):
            g, at = int(who[k]), reported[k]
            x, y = 113.3 + (g % 50 + 0.5) * CELL, 23.0 + (g // 50 + 0.5) * CELL
            done = at + timedelta(days=float(close_days[k])) if closed[k] else None
            due = at + timedelta(days=7)
            events.append({"id": k + 1, "uuid": _uuid(k, 1), "request_hash": "b", "category_code": "sanitation.garbage",
                           "description": "楼下垃圾堆放已经三天无人清理" if k % 3 else "垃圾", "address": "黄埔东路1号",
                           "geom": f"SRID=4490;POINT({x} {y})", "lon": x, "lat": y, "source_datum": "cgcs2000",
                           "gps_accuracy_m": float(5 + k % 40), "reporter_id": g + 1, "grid_id": g + 1,
                           "street_code": users[g]["street_code"], "state": "closed" if done else "dispatched",
                           "reported_at": at, "created_at": at + timedelta(minutes=3), "updated_at": at,
                           "closure_due_at": due, "closed_at": done, "closed_on_time": (done <= due) if done else None,
                           "photos": ["a" * 64] if k % 5 else [], "overdue": bool(done is None or done > due)})
            if k % 10 < 7:
                history.append({"event_id": k + 1, "kind": "transition", "from_state": "accepted",
                                "to_state": "dispatched", "at": at + timedelta(hours=6), "data": {}, "attachments": []})
        _batches(conn, Event.__table__, events)
        _batches(conn, EventHistory.__table__, history)
        n_visits = int(rng.poisson(VISITS_PER_MONTH * 12, n).sum())
        who = rng.integers(0, n, n_visits)
        starts = rng.uniform(0, year_s, n_visits)
        kind = rng.random(n_visits)
        visits = []
        for k in range(n_visits):
            at = YEAR_START + timedelta(seconds=float(starts[k]))
            counted = kind[k] < 0.9
            visits.append({"uuid": _uuid(k, 2), "request_hash": "b", "worker_id": int(who[k]) + 1,
                           "street_code": users[int(who[k])]["street_code"], "grid_id": int(who[k]) + 1,
                           "started_at": at, "ended_at": at + timedelta(minutes=20),
                           "geom": "SRID=4490;MULTIPOINT((113.3 23.0))", "points": [], "households": [], "photos": [],
                           "counted": bool(counted), "created_at": at + timedelta(minutes=25),
                           "not_counted_reason": None if counted else ("outside_assigned_grids" if kind[k] < 0.94
                                                                       else "too_short")})
        _batches(conn, Visit.__table__, visits)
        persons, updates = [], []
        for g in range(n):
            for j, (type_code, every) in enumerate((("mental_health", 30), ("other", 85))):
                pid = 2 * g + j + 1
                persons.append({"id": pid, "type_code": type_code, "name_enc": "x", "grid_id": g + 1,
                                "registered_at": SINCE, "registered_by": n + 1})
                at = YEAR_START + timedelta(days=float(rng.uniform(0, every)))
                while at < NOW:
                    updates.append({"uuid": _uuid(len(updates), 3), "key_person_id": pid, "actor_id": g + 1,
                                    "at": at, "created_at": at})
                    at += timedelta(days=float(rng.uniform(every * 0.8, every * 1.15)))
        _batches(conn, KeyPerson.__table__, persons)
        _batches(conn, KeyPersonUpdate.__table__, updates)
        counts |= {"events": n_events, "event_history": len(history), "visits": n_visits, "key_persons": len(persons),
                   "key_person_updates": len(updates), "assignments": len(assignments)}
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    engine.dispose()
    return counts


def run(backend: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    if backend == "postgis":
        url = args.pg_url
        eng = make_engine(url)
        with eng.begin() as c:
            c.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            c.exec_driver_sql("CREATE SCHEMA public")
        eng.dispose()
    else:
        url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    t = time.perf_counter()
    counts = load(url, args.workers, np.random.default_rng(args.seed))
    load_s = time.perf_counter() - t
    engine, rule, month = make_engine(url), current_rule(), parse_period(MONTH)
    with Session(engine) as s:
        compute(s, rule=rule, month=month, now=NOW)  # warm: rule, quality rule, key-person types, plans
        t = time.perf_counter()
        rows = compute(s, rule=rule, month=month, now=NOW)
        set_s = time.perf_counter() - t
        sample = [r.worker_id for r in rows][:: max(1, len(rows) // args.baseline_sample)] \
            if args.baseline_sample else [r.worker_id for r in rows]
        by_id = {r.worker_id: r for r in rows}
        t = time.perf_counter()
        for wid in sample:
            alone = compute(s, rule=rule, month=month, now=NOW, worker_ids=[wid])[0]
            assert (alone.total, [i.score for i in alone.items]) == (by_id[wid].total,
                                                                      [i.score for i in by_id[wid].items]), wid
        one_s = time.perf_counter() - t
    engine.dispose()
    return {"backend": backend, "counts": counts, "load_s": load_s, "workers": len(rows), "set_s": set_s,
            "sample": len(sample), "one_s": one_s, "one_all_s": one_s / len(sample) * len(rows),
            "parts": sum(len(r.parts) > 1 for r in rows), "not_assessed": sum(not r.assessed for r in rows)}


def show(r: dict[str, Any]) -> None:
    print(f"\n== backend: {r['backend']}  ({platform.python_version()}, {os.cpu_count()} cores)")
    print("   data: " + ", ".join(f"{k} {v:,}" for k, v in r["counts"].items()) + f"  (loaded in {r['load_s']:.1f} s)")
    print(f"   {MONTH}: {r['workers']:,} workers ({r['parts']} with two assignment parts, {r['not_assessed']} not ranked)")
    print(f"   set-based, whole district: {r['set_s']:.2f} s")
    print(f"   worker by worker: {r['one_s']:.2f} s for {r['sample']} workers = {r['one_s'] / r['sample'] * 1000:.1f} ms "
          f"each → {r['one_all_s']:.1f} s for all ({r['one_all_s'] / r['set_s']:.0f}× the set-based run)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _, failed = for_each_backend(args.backend, lambda b, tmp: run(b, tmp, args), show, "gridops-bench-assess")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
