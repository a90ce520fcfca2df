"""Server CPU per request, by request type, for the requests of bench_load.py's mix (issue 17).

Run:  .venv/bin/python bench/bench_request_cpu.py [--backend sqlite|postgis|both] [--n 200]
      [--ref /path/to/other/checkout] [--demo-days 30] [--pg-url postgresql+psycopg://…/gridops_load]

bench_load.py tells what 2,000 users cost in all; this tells where it goes. On one demo database
(`gridops demo --days N`), one `gridops serve --workers 1` answers --n requests of each type, one
at a time over one keep-alive connection, after a warm-up of --n / 10; the server's CPU (its process
tree, /proc) and PostgreSQL's (the database's backends) over those requests, divided by --n, is the
cost of one request of that type. `GET /health` (no database, no token) is the baseline: the cost of
HTTP and the middleware alone.

With --ref DIR a second server runs DIR's code (PYTHONPATH=DIR) on the same database, and each type
is measured on both servers alternately (ref, this tree, ref, this tree: --rounds), so the two
columns share the machine's load of the moment: a before/after in one run. The requests write
(reports, visits, app sessions, transitions), so the database grows a little during the run, the
same for both.

The machine may be shared: the other processes' CPU during each measurement is printed beside it;
sequential requests leave the client waiting most of the time, so the figures are CPU per request,
not latency under load.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import uuid as uuidlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import bench_parser, for_each_backend  # noqa: E402
from bench_events import (  # noqa: E402 - the same harness: server, database, /proc accounting
    CpuUse, bench_database, bench_env, cpu_snapshot, event_body, login_workers, machine_line, other_load_pct,
    served, setup_demo,
)
from bench_load import API, DEFAULT_PG_URL, login  # noqa: E402
from mobile.api import APP_VERSION  # noqa: E402

Send = Callable[[httpx.Client, random.Random, int], httpx.Response]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir; postgis = --pg-url")
    p.add_argument("--n", type=int, default=200, help="requests of each type per measurement")
    p.add_argument("--rounds", type=int, default=2, help="measurements of each type on each server")
    p.add_argument("--ref", default=None, help="another checkout whose server is measured beside this one")
    p.add_argument("--demo-days", type=int, default=30, help="`gridops demo --days`")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL database for PostGIS: DROPPED and created")
    p.add_argument("--only", default="",
                   help="measure only the types whose name contains one of these comma-separated words")
    return p.parse_args(argv)


@dataclass
class Tokens:
    worker: str
    worker_obj: object
    street: str
    command: str
    scope: str
    uuids: list[str]
    cursor: int


def request_types(t: Tokens) -> dict[str, Send]:
    """The requests of bench_load.py's personas, one function each (same paths and parameters)."""
    w, s, cmd = ({"Authorization": f"Bearer {x}"} for x in (t.worker, t.street, t.command))
    now = datetime.now(timezone.utc)

    def visit(c: httpx.Client, rnd: random.Random, k: int) -> httpx.Response:
        wk = t.worker_obj
        start = now - timedelta(minutes=30)
        pts = [{"lon": float(wk.lons[i]), "lat": float(wk.lats[i]),
                "at": (start + timedelta(minutes=5 * n)).isoformat()} for n, i in enumerate(range(4))]
        body = {"uuid": str(uuidlib.uuid4()), "started_at": start.isoformat(), "ended_at": now.isoformat(),
                "datum": "wgs84", "points": pts, "households": ["1栋101"], "notes": "bench"}
        return c.post("/visits", json=body, headers=w)

    month = {"scope": t.scope, "period": now.strftime("%Y-%m")}
    return {
        "GET /health (no token, no database)": lambda c, rnd, k: c.get("/health"),
        "GET /auth/me": lambda c, rnd, k: c.get("/auth/me", headers=w),
        "sync: app session": lambda c, rnd, k: c.post("/app/sessions", json={"app_version": APP_VERSION}, headers=w),
        "sync: changes (none new)": lambda c, rnd, k: c.get("/events/changes", params={"cursor": t.cursor, "limit": 500},
                                                            headers=w),
        "sync: event detail": lambda c, rnd, k: c.get(f"/events/{t.uuids[k % len(t.uuids)]}", headers=w),
        "sync: events page (100)": lambda c, rnd, k: c.get(
            "/events", params={"page": 1, "page_size": 100, "sort": "-updated_at"}, headers=w),
        "report: POST /events": lambda c, rnd, k: c.post(
            "/events", content=event_body(t.worker_obj, rnd, k), headers={**w, "Content-Type": "application/json"}),
        "visit: POST /visits": visit,
        "staff: events list (20)": lambda c, rnd, k: c.get(
            "/events", params={"page_size": 20, "sort": "-reported_at", "state": ["reported", "accepted"]}, headers=s),
        "board: indicators (month)": lambda c, rnd, k: c.get("/indicators", params=month, headers=cmd),
        "board: areas grid (month)": lambda c, rnd, k: c.get(
            "/indicators/areas", params={**month, "level": "grid", "indicator": "closure_rate"}, headers=cmd),
    }


@dataclass
class Cost:
    server_ms: float
    postgres_ms: float
    other_pct: float
    failed: int


def measure(base: str, send: Send, n: int, server_pid: int, pg_database: str | None, seed: int) -> Cost:
    rnd = random.Random(seed)
    with httpx.Client(base_url=base + API, timeout=60) as c:
        for k in range(max(5, n // 10)):  # warm-up: caches, thread-local transformers, pooled connections
            send(c, rnd, k)
        a = cpu_snapshot(server_pid, pg_database)
        failed = sum(send(c, rnd, k).status_code >= 400 for k in range(n))
        b = cpu_snapshot(server_pid, pg_database)
    use = CpuUse.between(a, b)
    span = b.t - a.t
    return Cost(10 * use.server_pct * span / n, 10 * use.postgres_pct * span / n, other_load_pct(use), failed)


def tokens(base: str) -> Tokens:
    wk = login_workers(base, 1, np.random.default_rng(1))[0]
    street, _ = login(base, "street01")
    command, me = login(base, "command")
    with httpx.Client(base_url=base + API, timeout=30) as c:
        r = c.get("/events", params={"page_size": 100}, headers={"Authorization": f"Bearer {wk.token}"})
        r.raise_for_status()
        uuids = [e["uuid"] for e in r.json()["items"]]
        cursor, more = 0, True
        while more:  # the worker's newest cursor: a sync that finds nothing new, the usual one
            page = c.get("/events/changes", params={"cursor": cursor, "limit": 1000},
                         headers={"Authorization": f"Bearer {wk.token}"}).json()
            cursor, more = page["next_cursor"], page["has_more"]
    return Tokens(wk.token, wk, street, command, f"district:{me['district_code']}", uuids, cursor)


@contextmanager
def servers(backend: str, env: dict[str, str], tmp: Path, ref: str | None) -> Iterator[dict[str, object]]:
    with ExitStack() as stack:
        out: dict[str, object] = {}
        if ref:
            out["ref"] = stack.enter_context(served(backend, {**env, "PYTHONPATH": ref}, tmp, 1, None, "-ref"))
        out["this"] = stack.enter_context(served(backend, env, tmp, 1, None, "-this"))
        yield out


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> tuple[str, dict[str, dict[str, list[Cost]]]]:
    from sqlalchemy.engine import make_url

    pg = make_url(args.pg_url)  # created through the `postgres` database of the same server
    admin_url = pg.set(database="postgres").render_as_string(hide_password=False)
    with bench_database(backend, tmp, admin_url, pg.database, keep=False) as url:
        env = bench_env(url, tmp, embedded_mqtt=False)
        setup = setup_demo(env, tmp, args.demo_days)
        pg_db = pg.database if backend == "postgis" else None
        with servers(backend, env, tmp, args.ref) as srv:
            first = next(iter(srv.values()))
            t = tokens(first.base)  # one database, one secret: the tokens work on every server
            costs: dict[str, dict[str, list[Cost]]] = {}
            for i, (name, send) in enumerate(request_types(t).items()):
                if not any(word in name for word in args.only.split(",")):
                    continue
                for r in range(args.rounds):
                    for label, s in srv.items():
                        costs.setdefault(name, {}).setdefault(label, []).append(
                            measure(s.base, send, args.n, s.proc.pid, pg_db, 1000 * i + r))
    return f"{backend}: {setup}", costs


def show(result: tuple[str, dict[str, dict[str, list[Cost]]]]) -> None:
    head, costs = result
    print(f"\n== {head}")
    labels = list(next(iter(costs.values())).keys()) if costs else []
    print(f"  {'request type':36} " + " ".join(f"{lab + ': server / postgres ms':>30}" for lab in labels)
          + "  other load (% of a core)  4xx/5xx")
    for name, by in costs.items():
        cells, others, failed = [], [], 0
        for lab in labels:
            cs = by[lab]
            cells.append(f"{np.median([c.server_ms for c in cs]):>14.2f} / {np.median([c.postgres_ms for c in cs]):>6.2f}")
            others += [c.other_pct for c in cs]
            failed += sum(c.failed for c in cs)
        print(f"  {name:36} " + " ".join(f"{c:>30}" for c in cells) + f"  {np.mean(others):>8.0f}  {failed:>8}")
    print("  (median of the rounds; each cell is CPU per request, ms; other load: processes not ours, "
          "shared machine)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("gridops bench: server CPU per request type (issue 17)")
    print(machine_line())
    print(f"run      : {args.n} requests per type and round, {args.rounds} round(s), demo --days {args.demo_days}"
          + (f", ref = {args.ref} against this tree ({Path(__file__).resolve().parents[1]})" if args.ref else ""))
    _, failed = for_each_backend(args.backend, lambda b, tmp: run_backend(b, args, tmp), show, "gridops-reqcpu")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
