"""Load test: many users at once on a mix of reads, event reports and exports, on SpatiaLite and PostGIS.

Run:  .venv/bin/python bench/bench_load.py [--backend sqlite|postgis|both] [--users 200] [--seconds 60]
      [--workers N] [--demo-days 365] [--pg-url postgresql+psycopg://…/gridops_load]

For each back end: a fresh database (a temp dir for SQLite; the database named in --pg-url, dropped
and created again, for PostGIS), `gridops db upgrade` and `gridops demo --days N` as subprocesses,
`gridops serve --workers N` on a free loopback port (the server and database set-up of
bench_events.py). Each simulated user is one demo grid worker (w001..) and, for the desk work, the
admin of that worker's street (street01..06), the command centre or the district admin (those
accounts are shared). Users log in, warm up (one report, one list, one sync poll each), then for
--seconds every user sends its next request as soon as the previous one is answered (no think
time, as the issue measured): 70 % reads (events list with filters and pages, an event's detail,
the sync poll GET /events/changes?cursor=, grids, the street's indicator board
/indicators/areas, visits, devices), 25 % event reports (POST /events, a fresh uuid, a point
inside the worker's grid) and 5 % exports (GET /events/export?format=csv|xlsx, the street's last
30 days, by street admins). One httpx.AsyncClient carries all users (a keep-alive connection
each); a request not answered within --timeout seconds is a client time-out (what a proxy in
front would answer with 504). Baseline: GET /api/v1/health by the same users for --health-seconds,
so the mix's figures read against the HTTP stack alone. Printed per request type and in total:
count, answers/s, p50/p95/p99 latency (every request started in the window, time-outs at their
time-out), 4xx, 5xx and time-outs; server CPU and memory (RSS of the server's processes, sampled
from /proc) and, on PostGIS, the database's connections (pg_stat_activity, sampled). Exit status
1 if any request got a 5xx, timed out or lost its connection (everything is printed first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import bench_parser, for_each_backend  # noqa: E402
from bench_events import (  # noqa: E402 - the same harness: server, database, /proc accounting, clients
    PASSWORD, CpuUse, Server, Worker, _error_code, _tree, bench_database, bench_env, cpu_line, cpu_snapshot,
    db_facts, event_body, limiting_factor, login_workers, machine_line, other_load_pct, served, server_exceptions,
    setup_demo,
)
from gis.codes import street_of  # noqa: E402 - bench_events put the project on sys.path

DEFAULT_PG_URL = "postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_load"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SAMPLE_S = 0.5  # memory and connection sampling interval
SEEN_UUIDS = 64  # event uuids a user remembers for detail requests


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir (the embedded default); postgis = --pg-url")
    p.add_argument("--users", type=int, default=200, help="simulated users, each a demo grid worker (w001..)")
    p.add_argument("--seconds", type=float, default=60.0, help="duration of the mixed load")
    p.add_argument("--health-seconds", type=float, default=10.0,
                   help="duration of the baseline phase (GET /api/v1/health by the same users)")
    p.add_argument("--workers", type=int, default=None,
                   help="uvicorn worker processes (`gridops serve --workers`); default 1 on SQLite, 2 on PostGIS")
    p.add_argument("--demo-days", type=int, default=365,
                   help="`gridops demo --days N`: days of synthetic history (fewer: faster set-up, lighter reads)")
    p.add_argument("--timeout", type=float, default=60.0, help="client time-out per request, seconds")
    p.add_argument("--max-requests", type=int, default=500_000,
                   help="stop a phase early after this many requests in total (a bound besides the seconds)")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_LOAD_POSTGRES_URL", DEFAULT_PG_URL),
                   help="PostgreSQL database for the PostGIS run: DROPPED and created again through the server's "
                        "`postgres` database with the same credentials (a superuser or CREATEDB role); "
                        "$GRIDOPS_LOAD_POSTGRES_URL, if set, is the default")
    p.add_argument("--keep-db", action="store_true", help="keep the PostGIS database afterwards")
    p.add_argument("--server-logs", metavar="DIR", help="copy each back end's server log into DIR")
    p.add_argument("--seed", type=int, default=2026, help="random seed for the mix, filters and points")
    args = p.parse_args(argv)
    if (args.users < 1 or args.seconds <= 0 or args.health_seconds < 0 or args.timeout <= 0
            or args.max_requests < 1 or (args.workers is not None and args.workers < 1) or args.demo_days < 0):
        p.error("--users, --max-requests, --workers must be >= 1, --seconds and --timeout > 0, "
                "--health-seconds and --demo-days >= 0")
    if args.users > 288:
        p.error("the demo district has 288 grid workers (w001..w288): --users <= 288")
    from sqlalchemy.engine import make_url

    name = make_url(args.pg_url).database or ""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name in {"postgres", "template0", "template1"}:
        p.error("--pg-url must name a plain lower-case database of its own (it is dropped and created again)")
    return args


def workers_for(backend: str, args: argparse.Namespace) -> int:
    return args.workers if args.workers is not None else (1 if backend == "sqlite" else 2)


# ------------------------------------------------------------------ users and the mix


@dataclass
class User:
    """One simulated user: a grid worker, and the desk accounts it uses for the desk requests."""

    worker: Worker
    street_code: str
    street_token: str
    command_token: str
    admin_token: str
    seen: list[tuple[str, str]] = field(default_factory=list)  # (token, uuid) of events this user may open
    cursor: int = 0  # GET /events/changes position (the phone's sync state)
    reports: int = 0

    def remember(self, token: str, uuids: list[str], rnd: random.Random) -> None:
        for u in uuids:
            if len(self.seen) < SEEN_UUIDS:
                self.seen.append((token, u))
            else:
                self.seen[rnd.randrange(SEEN_UUIDS)] = (token, u)


def login(base: str, username: str) -> str:
    r = httpx.post(base + "/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def make_users(base: str, n: int, seed: int) -> list[User]:
    workers = login_workers(base, n, np.random.default_rng(seed))  # w001..: token, grid, points inside it
    desk = {name: login(base, name) for name in ["command", "admin", *(f"street{i:02d}" for i in range(1, 7))]}
    users = []
    for w in workers:
        street = street_of(w.grid_code)
        users.append(User(w, street, desk[f"street{int(street[6:9]):02d}"], desk["command"], desk["admin"]))
    return users


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _uuids(r: httpx.Response) -> list[str]:
    return [e["uuid"] for e in r.json()["items"]] if r.status_code == 200 else []


async def events_list(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    """The list with one of the filters a desk or a phone uses, a page of 20 or 50."""
    who = rnd.random()
    token, params = ((u.worker.token, {}) if who < 0.5 else
                     (u.street_token, {"street_code": u.street_code}) if who < 0.8 else (u.command_token, {}))
    flt = rnd.randrange(5)
    if flt == 1:
        params["state"] = rnd.sample(["reported", "accepted", "dispatched", "handled"], 2)
    elif flt == 2:
        params["category"] = rnd.choice(["public_security", "work_safety", "fire_hazard", "sanitation"])
    elif flt == 3:
        params["reported_from"] = _iso(datetime.now(timezone.utc) - timedelta(days=7))
    elif flt == 4:
        params["overdue"] = "true"
    params.update(page=rnd.choice([1, 1, 1, 2, 3]), page_size=rnd.choice([20, 50]),
                  sort=rnd.choice(["-reported_at", "-reported_at", "due_at"]))
    r = await c.get("/api/v1/events", params=params, headers=_auth(token))
    u.remember(token, _uuids(r)[:5], rnd)
    return r


async def street_events(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    """The warm-up's list: the street's newest events, for the user's detail requests."""
    r = await c.get("/api/v1/events", params={"page_size": 20}, headers=_auth(u.street_token))
    u.remember(u.street_token, _uuids(r), rnd)
    return r


async def event_detail(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    """An event seen in a list or reported before; with none seen yet, an unknown uuid (a 404, counted)."""
    token, uuid = rnd.choice(u.seen) if u.seen else (u.worker.token, str(uuidlib.uuid4()))
    return await c.get(f"/api/v1/events/{uuid}", headers=_auth(token))


async def changes_poll(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    r = await c.get("/api/v1/events/changes", params={"cursor": u.cursor, "limit": 200}, headers=_auth(u.worker.token))
    if r.status_code == 200:
        u.cursor = r.json()["next_cursor"]
    return r


async def grids_list(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    who = rnd.random()
    token, pages = (u.worker.token, 1) if who < 0.5 else (u.street_token, 1) if who < 0.8 else (u.admin_token, 6)
    return await c.get("/api/v1/grids", params={"page": rnd.randint(1, pages), "page_size": 50}, headers=_auth(token))


async def indicator_areas(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    """The street's board: every indicator for the street and each of its communities or grids, this month."""
    period = datetime.now(SHANGHAI).strftime("%Y-%m")
    return await c.get("/api/v1/indicators/areas", params={
        "scope": f"street:{u.street_code}", "period": period, "level": rnd.choice(["community", "grid"])},
        headers=_auth(u.street_token))


async def visits_list(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    token = u.worker.token if rnd.random() < 0.6 else u.street_token
    return await c.get("/api/v1/visits", params={"page": rnd.choice([1, 1, 2]), "page_size": rnd.choice([20, 50])},
                       headers=_auth(token))


async def devices_list(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    token = u.worker.token if rnd.random() < 0.5 else u.street_token
    return await c.get("/api/v1/devices", params={"page_size": 50}, headers=_auth(token))


async def event_report(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    body = event_body(u.worker, rnd, u.reports)  # fresh uuid, a point inside the worker's grid, wgs84 or gcj02
    u.reports += 1
    r = await c.post("/api/v1/events", content=body,
                     headers={**_auth(u.worker.token), "Content-Type": "application/json"})
    if r.status_code == 201:
        u.remember(u.worker.token, [json.loads(body)["uuid"]], rnd)
    return r


def export(fmt: str) -> Callable[[User, httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]:
    async def run(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
        since = _iso(datetime.now(timezone.utc) - timedelta(days=30))
        return await c.get("/api/v1/events/export", params={"format": fmt, "reported_from": since},
                           headers=_auth(u.street_token))
    return run


async def health(u: User, c: httpx.AsyncClient, rnd: random.Random) -> httpx.Response:
    return await c.get("/api/v1/health")


@dataclass(frozen=True)
class Kind:
    name: str
    weight: float  # % of the requests
    run: Callable[[User, httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]


MIX = [  # 70 % reads, 25 % reports, 5 % exports
    Kind("events list", 20, events_list), Kind("event detail", 12, event_detail),
    Kind("changes poll", 10, changes_poll), Kind("grids list", 8, grids_list),
    Kind("visits list", 8, visits_list), Kind("devices list", 7, devices_list),
    Kind("indicator areas", 5, indicator_areas), Kind("event report", 25, event_report),
    Kind("export csv", 2.5, export("csv")), Kind("export xlsx", 2.5, export("xlsx")),
]
HEALTH = [Kind("health", 100, health)]
WARM_UP = [Kind("event report", 1, event_report), Kind("street events", 1, street_events),
           Kind("changes poll", 1, changes_poll)]


# ------------------------------------------------------------------ running a phase


@dataclass
class Sample:
    kind: str
    label: str  # "200", "404 event_not_found", "503 …", "time-out", "ConnectError" …
    seconds: float


@dataclass
class Resources:
    cpu: CpuUse
    rss_mib: tuple[float, float, float]  # server processes: start, max, end
    pg_connections: tuple[float, int, int, int] | None  # mean, max, max active, max idle in transaction (PostGIS)


@dataclass
class Phase:
    name: str
    elapsed: float  # from the start to the last answer (or time-out)
    samples: list[Sample]
    res: Resources
    server_exit: int | None = None  # the server's exit code, if it was gone by the end of the phase


def _rss_mib(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total / 1024


class Sampler(threading.Thread):
    """Server memory and database connections every SAMPLE_S seconds, beside the load."""

    def __init__(self, server_pid: int, pg_url: str | None) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.pg_url = server_pid, pg_url
        self.rss: list[float] = []
        self.conns: list[tuple[int, ...]] = []  # (all, active, idle in transaction)
        self.stopping = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        conn = None
        if self.pg_url:
            from sqlalchemy import create_engine, text
            from sqlalchemy.pool import NullPool

            engine = create_engine(self.pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            conn = engine.connect()
            count = text("SELECT count(*), count(*) FILTER (WHERE state = 'active'), "
                         "count(*) FILTER (WHERE state = 'idle in transaction') FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        try:
            while True:
                self.rss.append(_rss_mib(self.server_pid))
                if conn is not None:
                    self.conns.append(tuple(int(v) for v in conn.execute(count).one()))
                if self.stopping.wait(SAMPLE_S):
                    return
        except Exception as exc:  # noqa: BLE001 - a sampler failure ends the sampling, not the run
            self.error = f"{type(exc).__name__}: {exc!s:.200}"
        finally:
            if conn is not None:
                conn.close()
                engine.dispose()

    def finish(self) -> tuple[tuple[float, float, float], tuple[float, int, int, int] | None]:
        self.stopping.set()
        self.join(timeout=10)
        rss = (self.rss[0], max(self.rss), self.rss[-1]) if self.rss else (0.0, 0.0, 0.0)
        conns = ((float(np.mean([c[0] for c in self.conns])), *(max(c[i] for c in self.conns) for i in range(3)))
                 if self.conns else None)
        return rss, conns


async def _load(server: Server, users: list[User], kinds: list[Kind], seconds: float | None,
                args: argparse.Namespace, seed: int) -> tuple[float, list[Sample]]:
    """All users start together; each sends its next request when the previous is answered, until the
    deadline (None: one request of each kind, in order), the request cap, or the server's exit.
    Returns (elapsed, samples)."""
    samples: list[Sample] = []
    started = 0
    limits = httpx.Limits(max_connections=len(users) + 8, max_keepalive_connections=len(users) + 8)
    weights = [k.weight for k in kinds]
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=args.timeout + 5) as client:
        t0 = time.perf_counter()
        deadline = t0 + seconds if seconds is not None else float("inf")

        async def user_loop(i: int) -> None:
            nonlocal started
            u, rnd = users[i], random.Random(seed * 1000 + i)
            plan = iter(kinds) if seconds is None else None
            while time.perf_counter() < deadline and started < args.max_requests:
                kind = next(plan, None) if plan is not None else rnd.choices(kinds, weights)[0]
                if kind is None:
                    return
                started += 1
                t = time.perf_counter()
                try:
                    async with asyncio.timeout(args.timeout):
                        r = await kind.run(u, client, rnd)
                    label = str(r.status_code) if r.status_code < 400 else _error_code(r)
                except (TimeoutError, httpx.TimeoutException):
                    label = "time-out"
                except httpx.HTTPError as exc:
                    label = type(exc).__name__  # e.g. the server closed the connection after an unhandled error
                    if isinstance(exc, httpx.ConnectError) and server.proc.poll() is not None:
                        samples.append(Sample(kind.name, label, time.perf_counter() - t))
                        return  # nobody listens any more
                except Exception as exc:  # noqa: BLE001 - an answer the bench did not expect (JSON, keys): counted
                    label = f"unexpected answer ({type(exc).__name__})"
                samples.append(Sample(kind.name, label, time.perf_counter() - t))

        await asyncio.gather(*(user_loop(i) for i in range(len(users))))
        return time.perf_counter() - t0, samples


def run_phase(name: str, server: Server, users: list[User], kinds: list[Kind], seconds: float | None,
              args: argparse.Namespace, pg_url: str | None, pg_database: str | None) -> Phase:
    sampler = Sampler(server.proc.pid, pg_url)
    sampler.start()
    try:
        snap0 = cpu_snapshot(server.proc.pid, pg_database)
        elapsed, samples = asyncio.run(_load(server, users, kinds, seconds, args, args.seed + len(name)))
        snap1 = cpu_snapshot(server.proc.pid, pg_database)
    finally:
        rss, conns = sampler.finish()
    if sampler.error:
        print(f"warning: sampling stopped during the {name} phase: {sampler.error}", file=sys.stderr)
    exit_code = server.proc.poll()
    if exit_code is not None:
        print(f"warning: the server exited with code {exit_code} by the end of the {name} phase", file=sys.stderr)
        server.print_log_tail(server.log_path.stem.removeprefix("server-"))
    return Phase(name, elapsed, samples, Resources(CpuUse.between(snap0, snap1), rss, conns), exit_code)


# ------------------------------------------------------------------ one back end


@dataclass
class BackendResult:
    backend: str
    version: str
    setup: str
    workers: int
    warm_up: Phase
    health: Phase
    mix: Phase
    server_errors: Counter[str]
    limit: str


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> BackendResult:
    from sqlalchemy.engine import make_url

    pg = make_url(args.pg_url)  # created through the `postgres` database of the same server
    admin_url = pg.set(database="postgres").render_as_string(hide_password=False)
    workers = workers_for(backend, args)
    with bench_database(backend, tmp, admin_url, pg.database, keep=args.keep_db) as url:
        pg_url, pg_database = (url, pg.database) if backend == "postgis" else (None, None)
        env = bench_env(url, tmp, embedded_mqtt=False)
        setup = setup_demo(env, tmp, args.demo_days)
        version, _ = db_facts(url)
        with served(backend, env, tmp, workers, args.server_logs) as server:
            t = time.perf_counter()
            users = make_users(server.base, args.users, args.seed)
            setup += f", {args.users} workers + 8 desk accounts logged in {time.perf_counter() - t:.1f} s"
            phases = [run_phase(name, server, users, kinds, seconds, args, pg_url, pg_database) for name, kinds, seconds
                      in [("warm-up", WARM_UP, None), ("health", HEALTH, args.health_seconds),
                          ("mix", MIX, args.seconds)]]
            server.stop()  # its log is complete
            errs = server_exceptions(server.log_path)
    return BackendResult(backend, version, setup, workers, *phases, errs, limit(backend, phases[-1], workers, errs))


def limit(backend: str, mix: Phase, workers: int, errs: Counter[str]) -> str:
    """bench_events' verdict, after the one it does not know: requests that waited for a pooled connection."""
    pool = sum(v for k, v in errs.items() if "QueuePool limit" in k)
    if pool:
        return (f"the SQLAlchemy connection pool: {pool} requests failed after waiting 30 s for one of its 15 "
                f"connections per worker process (pool_size 5 + max_overflow 10), with the server at "
                f"{mix.res.cpu.server_pct:.0f} % CPU: connections were checked out, not busy in the database")
    return limiting_factor(backend, mix.res.cpu, workers, errs)


# ------------------------------------------------------------------ report


@dataclass
class Row:
    name: str
    count: int
    ok: int
    c4xx: int
    c5xx: int
    timeouts: int
    other: int  # no HTTP answer but no time-out either: the connection failed (or an answer the bench could not read)
    rate: float  # answers (2xx/3xx) per second
    p50: float
    p95: float
    p99: float

    @property
    def failed(self) -> int:
        return self.c5xx + self.timeouts + self.other


def row(name: str, samples: list[Sample], elapsed: float) -> Row:
    labels = Counter(s.label for s in samples)
    ok = sum(v for k, v in labels.items() if k[:1] in "23")
    c4 = sum(v for k, v in labels.items() if k[:1] == "4")
    c5 = sum(v for k, v in labels.items() if k[:1] == "5")
    lat = np.array([s.seconds * 1000 for s in samples]) if samples else np.array([np.nan])
    p50, p95, p99 = (float(x) for x in np.percentile(lat, [50, 95, 99]))
    return Row(name, len(samples), ok, c4, c5, labels["time-out"], len(samples) - ok - c4 - c5 - labels["time-out"],
               ok / elapsed if elapsed else 0.0, p50, p95, p99)


def _ms(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def rows(phase: Phase, kinds: list[Kind]) -> list[Row]:
    by_kind = {k.name: [s for s in phase.samples if s.kind == k.name] for k in kinds}
    out = [row(k.name, by_kind[k.name], phase.elapsed) for k in kinds]
    if len(kinds) > 1:
        out.append(row("total", phase.samples, phase.elapsed))
    return out


def print_table(phase: Phase, kinds: list[Kind], target: bool = True) -> None:
    total = max(len(phase.samples), 1)
    print(f"  {'request type':16} {'share':>11} {'count':>6} {'answers/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'4xx':>5} {'5xx':>5} {'time-outs':>9} {'other':>6}")
    weights = {k.name: k.weight for k in kinds}
    for r in rows(phase, kinds):
        share = (f"{100 * r.count / total:4.1f}/{weights[r.name]:4.1f}%" if r.name in weights and target
                 else f"{100 * r.count / total:10.1f}%")
        print(f"  {r.name:16} {share:>11} {r.count:6d} {r.rate:9.1f} {_ms(r.p50):>8} {_ms(r.p95):>8} {_ms(r.p99):>8} "
              f"{r.c4xx:5d} {r.c5xx:5d} {r.timeouts:9d} {r.other:6d}")
    bad = Counter(f"{s.kind}: {s.label}" for s in phase.samples if s.label[:1] not in "23")
    for k, v in sorted(bad.items()):
        print(f"    {v:6d} × {k}")
    total_row = rows(phase, kinds)[-1]
    if total_row.other and total_row.c5xx:
        print("    (other: the connection closed under the request. uvicorn closes a connection after a request "
              "ends in an unhandled exception,\n     the 500s above, and the client's pool had already handed it to "
              "the next request)")


def print_resources(res: Resources, backend: str) -> None:
    print(f"  cpu      : {cpu_line(res.cpu, backend)}")
    start, peak, end = res.rss_mib
    print(f"  memory   : server processes RSS {start:.0f} MiB at the start, {peak:.0f} MiB at most, {end:.0f} MiB "
          f"at the end (sampled every {SAMPLE_S:g} s)")
    if res.pg_connections is not None:
        mean, top, active, idle_tx = res.pg_connections
        print(f"  database : {mean:.1f} connections on average, {top} at most ({active} active at most, "
              f"{idle_tx} idle in transaction at most), pg_stat_activity every {SAMPLE_S:g} s")


def print_result(r: BackendResult, args: argparse.Namespace) -> None:
    mix, h, w = r.mix, r.health, r.warm_up
    print(f"\n== backend: {r.backend} ==")
    print(f"database : {r.version}")
    print(f"setup    : {r.setup}")
    print(f"server   : gridops serve --workers {r.workers}, embedded MQTT off, load from one asyncio process "
          f"(httpx.AsyncClient, {args.users} keep-alive connections), client time-out {args.timeout:g} s")
    died = next((p for p in (w, h, mix) if p.server_exit is not None), None)
    if died is not None:
        print(f"SERVER   : EXITED with code {died.server_exit} during the {died.name} phase (negative: killed by "
              f"that signal); what followed met nobody (ConnectError)")
    wr = row("warm-up", w.samples, w.elapsed)
    print(f"warm-up  : {wr.count} requests (a report, a list and a sync poll per user) in {w.elapsed:.1f} s, "
          f"p50 {_ms(wr.p50)} ms, 5xx {wr.c5xx}, time-outs {wr.timeouts}, other errors {wr.other}")
    print(f"baseline : GET /api/v1/health by {args.users} users for {args.health_seconds:g} s "
          f"(elapsed {h.elapsed:.1f} s)")
    print_table(h, HEALTH, target=False)
    print_resources(h.res, r.backend)
    print(f"mix      : {args.users} users for {args.seconds:g} s (requests started until then; the last answered "
          f"{mix.elapsed - args.seconds:.1f} s after), share = measured/target; answers/s = 2xx per second of "
          f"{mix.elapsed:.1f} s")
    print_table(mix, MIX)
    print_resources(mix.res, r.backend)
    total = row("total", mix.samples, mix.elapsed)
    hr = row("health", h.samples, h.elapsed)
    if hr.rate:
        print(f"  ratio    : mix {total.rate:.1f} answers/s = {total.rate / hr.rate:.3f} of health's {hr.rate:.0f}/s")
    if r.server_errors:
        print("  server tracebacks: " + ", ".join(f"{k}: {v}" for k, v in sorted(r.server_errors.items())))
    print(f"  limited by: {r.limit}")
    busy = max(other_load_pct(h.res.cpu), other_load_pct(mix.res.cpu))
    if busy >= 30:
        print(f"warning  : other processes on this machine used up to {busy:.0f} % of a core during the run; "
              f"figures that depend on CPU are lower than on an idle machine")
    failed = total.failed + hr.failed + wr.failed
    print(f"verdict  : {'OK, 0 × 5xx, 0 time-outs' if not failed else f'FAILED: {failed} requests'} "
          f"(5xx {total.c5xx + hr.c5xx + wr.c5xx}, time-outs {total.timeouts + hr.timeouts + wr.timeouts}, "
          f"other errors {total.other + hr.other + wr.other})")


def failures(r: BackendResult) -> int:
    phases = (r.warm_up, r.health, r.mix)
    return sum(row(p.name, p.samples, p.elapsed).failed for p in phases) + any(p.server_exit is not None
                                                                              for p in phases)


def print_summary(results: list[BackendResult]) -> None:
    print("\n== summary (mix) ==")
    print(f"{'backend':8} {'workers':>7} {'answers/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'5xx':>5} {'time-outs':>9} {'health/s':>9}")
    for r in results:
        t, h = row("total", r.mix.samples, r.mix.elapsed), row("health", r.health.samples, r.health.elapsed)
        print(f"{r.backend:8} {r.workers:7d} {t.rate:9.1f} {_ms(t.p50):>8} {_ms(t.p95):>8} {_ms(t.p99):>8} "
              f"{t.c5xx:5d} {t.timeouts:9d} {h.rate:9.0f}")


def print_header(args: argparse.Namespace) -> None:
    print("gridops bench: mixed load through the HTTP API (70 % reads, 25 % event reports, 5 % exports)")
    print(machine_line())
    print(f"run      : {args.users} users, {args.seconds:g} s mix after {args.health_seconds:g} s of health, "
          f"time-out {args.timeout:g} s, cap {args.max_requests} requests a phase, demo --days {args.demo_days}, "
          f"seed {args.seed}")
    print("mix      : " + ", ".join(f"{k.name} {k.weight:g} %" for k in MIX))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_header(args)
    results, failed = for_each_backend(args.backend, lambda backend, tmp: run_backend(backend, args, tmp),
                                       lambda r: print_result(r, args), "gridops-load")
    if len(results) > 1:
        print_summary(results)
    return 1 if failed or any(failures(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
