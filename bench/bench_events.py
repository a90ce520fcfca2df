"""Benchmark sustained event submission through the HTTP API on SpatiaLite and on PostGIS.

Run:  .venv/bin/python bench/bench_events.py [--backend sqlite|postgis|both] [--clients 50] [--seconds 20]
      [--export-writers 20] [--exporters 1]

For each back end: a fresh database (a temp dir for SQLite, the --pg-database for PostGIS),
`gridops db upgrade` and `gridops demo` as subprocesses, `gridops serve` on a free loopback
port, then --clients grid workers (w001..) log in, fetch their own grid, and each POSTs
photo-less events with a fresh uuid, a random point inside that grid (datum wgs84 or gcj02,
the gcj02 ones shifted with gis.datum.wgs84_to_gcj02 so they still fall in the grid) and
reported_at now. The server converts the datum, assigns the grid and writes the event and
its history row. Figures: events/s and p50/p95/p99 latency; the baseline is the same clients
on GET /api/v1/health (the HTTP stack without the database) for the same time; then 1,000
already-sent bodies are POSTed again (each must be 200, not 201) and the database is checked
to hold exactly one event per 201 (exactly once). Then the export phase: --exporters district
admins download GET /api/v1/events/export?format=xlsx (every event so far, one long read) again and
again while --export-writers workers keep POSTing events, for the same time; it counts 5xx
(goal 0: a read never waits for SQLite's write lock and a write never waits for a read) and prints
the writers' events/s and latency beside the exports' durations. Server, load generator and
database CPU are sampled from /proc to say what limited throughput.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import numpy as np
import shapely
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import bench_parser, for_each_backend  # noqa: E402 - bench/, the script's own folder
from gis.datum import wgs84_to_gcj02  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_test"
PASSWORD = "gridops2026"  # server.demo.DEMO_PASSWORD
# Non-dispute leaf categories seeded by migration 0002 (disputes add a dispute row: another workload).
CATEGORIES = ["public_security.gathering", "public_security.theft", "work_safety.construction",
              "work_safety.gas", "fire_hazard.passage", "fire_hazard.ebike", "sanitation.garbage",
              "sanitation.sewage", "rental.unregistered", "other"]
POINTS_PER_CLIENT = 4096
INSET_DEG = 1e-5  # ~1 m: sample strictly inside the grid, never on a shared border
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir (the embedded default); postgis = --pg-url")
    p.add_argument("--clients", type=int, default=50,
                   help="concurrent clients, one keep-alive connection and one demo grid worker (w001..) each")
    p.add_argument("--seconds", type=float, default=20.0,
                   help="duration of the health phase and of the events phase, each")
    p.add_argument("--max-requests", type=int, default=200_000,
                   help="stop a phase early after this many requests in total (a bound besides --seconds)")
    p.add_argument("--retries", type=int, default=1000,
                   help="already-sent event bodies to POST again in the duplicate-retry phase (each must be 200)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (`gridops serve --workers`)")
    p.add_argument("--export-writers", type=int, default=20,
                   help="clients POSTing events during the export phase (the first of the --clients workers)")
    p.add_argument("--exporters", type=int, default=1,
                   help="district admins downloading the xlsx export over and over during the export phase (0: no phase)")
    p.add_argument("--sqlite-max-requests", type=int, default=None,
                   help="GRIDOPS_SQLITE_MAX_REQUESTS for the SQLite server (the request cap; default: the setting's)")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_TEST_POSTGRES_URL", DEFAULT_PG_URL),
                   help="PostgreSQL URL for the admin connection (AUTOCOMMIT) that creates --pg-database; "
                        "$GRIDOPS_TEST_POSTGRES_URL, if set, is the default")
    p.add_argument("--pg-database", default="gridops_bench",
                   help="database the PostGIS run drops and recreates (never the one in --pg-url)")
    p.add_argument("--keep-db", action="store_true",
                   help="keep the PostGIS bench database afterwards (the SQLite temp dir is always removed)")
    p.add_argument("--embedded-mqtt", action="store_true",
                   help="leave `gridops serve`'s demo MQTT broker, ingester and simulated devices on "
                        "(GRIDOPS_MQTT_EMBEDDED); off by default: production ingests in another process")
    p.add_argument("--demo-days", type=int, default=0,
                   help="`gridops demo --days N`: days of synthetic history before the run (365 takes ~30 s more)")
    p.add_argument("--server-logs", metavar="DIR",
                   help="copy each back end's server log (uvicorn output, tracebacks) into DIR")
    p.add_argument("--seed", type=int, default=2026, help="random seed for points, datums and categories")
    args = p.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.max_requests < 1 or args.workers < 1 or args.retries < 0:
        p.error("--clients, --max-requests, --workers must be >= 1, --seconds > 0, --retries >= 0")
    if args.clients > 288:
        p.error("the demo district has 288 grid workers (w001..w288): --clients <= 288")
    if not 1 <= args.export_writers <= args.clients or args.exporters < 0:
        p.error("--export-writers must be 1..--clients, --exporters >= 0")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.pg_database):
        p.error("--pg-database must be a plain lower-case identifier")
    return args


# ------------------------------------------------------------------ CPU accounting (/proc)


def _proc_cpu_s(pid: int | str) -> float:
    """utime + stime of one process in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _postgres_cpu(database: str) -> dict[str, float]:
    """CPU seconds per PostgreSQL backend serving `database` (its process title names the database),
    so other databases on the same cluster (a test suite, say) are not counted."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode(errors="replace").split()
                if database not in title[1:5]:  # "postgres: [15/main:] user database host(port) state"
                    continue
                out[d] = _proc_cpu_s(d)
            except OSError:
                pass
    return out


def _machine_busy_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]  # idle + iowait
    return sum(vals) - idle, sum(vals)


@dataclass
class CpuSnapshot:
    t: float
    server: float
    client: float
    postgres: dict[str, float]
    machine: tuple[int, int]


def cpu_snapshot(server_pid: int, pg_database: str | None) -> CpuSnapshot:
    return CpuSnapshot(time.perf_counter(), sum(_proc_cpu_s(p) for p in _tree(server_pid)),
                       _proc_cpu_s("self"), _postgres_cpu(pg_database) if pg_database else {},
                       _machine_busy_jiffies())


@dataclass
class CpuUse:
    server_pct: float  # % of one core, all server processes
    client_pct: float
    postgres_pct: float
    machine_pct: float  # % of all cores

    @staticmethod
    def between(a: CpuSnapshot, b: CpuSnapshot) -> CpuUse:
        dt = max(b.t - a.t, 1e-9)
        busy, total = b.machine[0] - a.machine[0], b.machine[1] - a.machine[1]
        pg = sum(v - a.postgres.get(p, 0.0) for p, v in b.postgres.items())  # backends started since: all of it
        return CpuUse(100 * (b.server - a.server) / dt, 100 * (b.client - a.client) / dt,
                      100 * pg / dt, 100 * busy / max(total, 1))


# ------------------------------------------------------------------ server and database set-up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gridops_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("gridops")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "server.cli.main"]


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(gridops_cmd() + args, env=env, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"`gridops {' '.join(args)}` failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t0


class Server:
    """`gridops serve` in its own process group, stopped (TERM, then KILL) by stop()."""

    def __init__(self, env: dict[str, str], cwd: Path, workers: int, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            gridops_cmd() + ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.base + "/api/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def print_log_tail(self, backend: str) -> None:
        """After a failure: the server's last words, on stderr."""
        tail = self.log_tail()
        if tail:
            print(f"--- last lines of the {backend} server log ---\n{tail}", file=sys.stderr)

    def stop(self, copy_log_to: str | None = None) -> None:
        """Stop the server (again: harmless) and copy its log into the folder copy_log_to, if given."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the server and its workers only
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self._log.close()
        if copy_log_to:
            Path(copy_log_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, Path(copy_log_to) / self.log_path.name)


def bench_env(url: str, tmp: Path, *, embedded_mqtt: bool) -> dict[str, str]:
    """The environment of every gridops process a bench starts: the demo (GRIDOPS_DEMO, so no keys are
    needed), cheap bcrypt, media in the temp dir, the embedded MQTT broker only if asked."""
    return {**os.environ, "GRIDOPS_DATABASE_URL": url, "GRIDOPS_BCRYPT_ROUNDS": "4",
            "GRIDOPS_SECRET_KEY": "bench-secret-key-with-at-least-32-bytes!", "GRIDOPS_DEMO": "true",
            "GRIDOPS_MEDIA_ROOT": str(tmp / "media"), "PYTHONPATH": str(ROOT),
            "GRIDOPS_MQTT_EMBEDDED": "true" if embedded_mqtt else "false"}


def setup_demo(env: dict[str, str], tmp: Path, demo_days: int) -> str:
    """`gridops db upgrade` and `gridops demo --days N` as subprocesses; what they took."""
    t_up = run_cli(["db", "upgrade"], env, tmp)
    t_demo = run_cli(["demo", "--days", str(demo_days)], env, tmp)
    return f"db upgrade {t_up:.1f} s, demo (--days {demo_days}) {t_demo:.1f} s"


def make_pg_database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_db = make_url(admin_url).database
    if name in {admin_db, "postgres", "template0", "template1"}:
        raise SystemExit(f"refusing to drop database {name!r}: choose another --pg-database")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def drop_pg_database_or_warn(admin_url: str, name: str) -> None:
    """drop_pg_database in a `finally`: a failure is reported, never raised over the original error."""
    try:
        drop_pg_database(admin_url, name)
    except Exception as exc:  # noqa: BLE001 - report, do not hide the original error
        print(f"warning: could not drop {name}: {exc}", file=sys.stderr)


@contextmanager
def bench_database(backend: str, tmp: Path, admin_url: str, name: str, *, keep: bool) -> Iterator[str]:
    """The URL of a fresh database: SQLite in tmp, or `name` created through admin_url and dropped
    afterwards unless keep."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    url = make_pg_database(admin_url, name)
    try:
        yield url
    finally:
        if not keep:
            drop_pg_database_or_warn(admin_url, name)


@contextmanager
def served(backend: str, env: dict[str, str], tmp: Path, workers: int, server_logs: str | None,
           name: str = "") -> Iterator[Server]:
    """`gridops serve` answering /health; on an error its last log lines go to stderr; stopped at the
    end (its log copied into server_logs, if given). `name` tells apart several servers of one back end."""
    server = Server(env, tmp, workers, tmp / f"server-{backend}{name}.log")
    try:
        server.wait_healthy()
        yield server
    except Exception:
        server.print_log_tail(backend)
        raise
    finally:
        server.stop(server_logs)


def db_facts(url: str) -> tuple[str, dict[str, int]]:
    """(version string, row counts) straight from the database, not through the API."""
    from sqlalchemy import text

    from server.database.core import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                v = conn.execute(text("SELECT sqlite_version(), spatialite_version()")).one()
                version = f"SQLite {v[0]} + SpatiaLite {v[1]} (WAL, synchronous=NORMAL)"
            else:
                pg = conn.execute(text("SHOW server_version")).scalar()
                postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
                version = f"PostgreSQL {pg} + PostGIS {postgis}"
            counts = {
                "events": conn.execute(text("SELECT count(*) FROM event")).scalar_one(),
                "distinct_uuids": conn.execute(text("SELECT count(DISTINCT uuid) FROM event")).scalar_one(),
                "create_history": conn.execute(
                    text("SELECT count(*) FROM event_history WHERE kind = 'create'")).scalar_one(),
            }
        return version, counts
    finally:
        engine.dispose()


def pg_stat_database(url: str, column: str) -> int:
    """A counter of this database in pg_stat_database (a fresh snapshot), e.g. `sessions` (sessions ever
    opened, PostgreSQL 14+, this one included) or `xact_commit + xact_rollback` (transactions)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(conn.execute(text(f"SELECT {column} FROM pg_stat_database "
                                         "WHERE datname = current_database()")).scalar_one())
    finally:
        engine.dispose()


def tree_memory_mb(pid: int, field: str = "VmRSS") -> float:
    """Memory of a process and its children from /proc: VmRSS (resident now) or VmHWM (its peak)."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith(f"{field}:")), 0)
        except OSError:
            pass
    return total / 1024


# ------------------------------------------------------------------ clients


@dataclass
class Worker:
    username: str
    token: str
    grid_code: str
    lons: np.ndarray = field(repr=False)  # points inside the grid, EPSG:4490 (= WGS-84 at metre level)
    lats: np.ndarray = field(repr=False)
    gcj_lons: np.ndarray = field(repr=False)  # the same points as a GCJ-02 phone SDK reports them
    gcj_lats: np.ndarray = field(repr=False)
    sent: list[bytes] = field(default_factory=list, repr=False)  # bodies answered 201
    failed: list[bytes] = field(default_factory=list, repr=False)  # bodies answered otherwise: outcome unknown


def sample_inside(geom: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    inner = geom.buffer(-INSET_DEG)
    if inner.is_empty:
        inner = geom
    minx, miny, maxx, maxy = inner.bounds
    xs, ys = np.empty(0), np.empty(0)
    while xs.size < n:
        cx, cy = rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)
        ok = shapely.contains_xy(inner, cx, cy)
        xs, ys = np.concatenate([xs, cx[ok]]), np.concatenate([ys, cy[ok]])
    return xs[:n], ys[:n]


def login_workers(base: str, n: int, rng: np.random.Generator) -> list[Worker]:
    workers = []
    with httpx.Client(base_url=base, timeout=30) as c:
        for i in range(1, n + 1):
            name = f"w{i:03d}"
            r = c.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["access_token"]
            r = c.get("/api/v1/grids", params={"geometry": "true"}, headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            items = r.json()["items"]
            if len(items) != 1:
                raise RuntimeError(f"{name} sees {len(items)} grids, expected exactly its own one")
            geom = shape(items[0]["geometry"])
            lons, lats = sample_inside(geom, POINTS_PER_CLIENT, rng)
            glons, glats = wgs84_to_gcj02(lons, lats)
            workers.append(Worker(name, token, items[0]["code"], lons, lats, np.asarray(glons), np.asarray(glats)))
    return workers


def login_exporters(base: str, n: int) -> list[Worker]:
    """District-wide readers (the demo's admin account, one keep-alive client each): the export is theirs."""
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        r.raise_for_status()
        token = r.json()["access_token"]
    empty = np.empty(0)
    return [Worker(f"admin#{i + 1}", token, "", empty, empty, empty, empty) for i in range(n)]


def event_body(w: Worker, rnd: random.Random, k: int) -> bytes:
    j = k % POINTS_PER_CLIENT
    datum = rnd.choice(("wgs84", "gcj02"))
    lon, lat = (w.lons[j], w.lats[j]) if datum == "wgs84" else (w.gcj_lons[j], w.gcj_lats[j])
    return json.dumps({
        "uuid": str(uuidlib.uuid4()), "category_code": rnd.choice(CATEGORIES),
        "description": f"bench event {k} by {w.username}", "lon": float(lon), "lat": float(lat), "datum": datum,
        "gps_accuracy_m": round(rnd.uniform(3, 30), 1), "reported_at": datetime.now(timezone.utc).isoformat(),
    }, ensure_ascii=False).encode()


@dataclass
class PhaseResult:
    name: str
    requests: int
    ok: int
    elapsed: float
    latencies_ms: np.ndarray
    errors: Counter[str]
    cpu: CpuUse
    notes: Counter[str] = field(default_factory=Counter)
    new_connections: int | None = None  # database connections the server opened during the phase (PostGIS)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms.size else float("nan")


# A client step: (worker, client, rnd, k) -> (status label, ok?, note or None); runs until told to stop.
Step = Callable[[Worker, httpx.Client, random.Random, int], tuple[str, bool, str | None]]


def run_phase(name: str, base: str, workers: list[Worker], step: Step, *, seconds: float | None, max_requests: int,
              per_client: list[int] | None, server_pid: int, pg_database: str | None, seed: int) -> PhaseResult:
    """All clients start together; each loops until the deadline, the global request cap, or its
    own quota (per_client) runs out. Only requests started before the deadline are sent."""
    budget = itertools.count()
    barrier = threading.Barrier(len(workers) + 1)
    lat: list[list[float]] = [[] for _ in workers]
    stat: list[Counter[str]] = [Counter() for _ in workers]
    notes: list[Counter[str]] = [Counter() for _ in workers]
    oks = [0] * len(workers)
    ends = [0.0] * len(workers)
    start_box: list[float] = []

    def client_loop(i: int) -> None:
        w, rnd = workers[i], random.Random(seed * 1000 + i)
        limit = per_client[i] if per_client is not None else None
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {w.token}"}) as c:
            barrier.wait()
            deadline = start_box[0] + seconds if seconds is not None else float("inf")
            k = 0
            while (limit is None or k < limit) and time.perf_counter() < deadline and next(budget) < max_requests:
                t0 = time.perf_counter()
                try:
                    label, ok, note = step(w, c, rnd, k)
                except httpx.HTTPError as exc:
                    label, ok, note = type(exc).__name__, False, f"{type(exc).__name__}: {exc!s:.80}"
                lat[i].append((time.perf_counter() - t0) * 1000)
                stat[i][label] += 1
                oks[i] += ok
                if note:
                    notes[i][note] += 1
                k += 1
            ends[i] = time.perf_counter()

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(len(workers))]
    for t in threads:
        t.start()
    snap0 = cpu_snapshot(server_pid, pg_database)
    start_box.append(time.perf_counter())
    barrier.wait()
    for t in threads:
        t.join()
    snap1 = cpu_snapshot(server_pid, pg_database)
    statuses: Counter[str] = sum(stat, Counter())
    expected = "200" if name != "events" else "201"
    errors = Counter({k: v for k, v in statuses.items() if k != expected})
    return PhaseResult(name, sum(statuses.values()), sum(oks), max(ends) - start_box[0],
                       np.array([x for xs in lat for x in xs]), errors, CpuUse.between(snap0, snap1),
                       sum(notes, Counter()))


def health_step(w: Worker, c: httpx.Client, rnd: random.Random, k: int) -> tuple[str, bool, str | None]:
    r = c.get("/api/v1/health")
    return str(r.status_code), r.status_code == 200, None


def post_step(w: Worker, c: httpx.Client, rnd: random.Random, k: int) -> tuple[str, bool, str | None]:
    body = event_body(w, rnd, k)
    try:
        r = c.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError:
        w.failed.append(body)  # sent, no answer: the event may or may not be stored
        raise
    if r.status_code != 201:
        w.failed.append(body)
        return _error_code(r), False, None
    w.sent.append(body)
    note = None if r.json().get("grid_code") == w.grid_code else "assigned another grid"
    return "201", True, note


def export_step(w: Worker, c: httpx.Client, rnd: random.Random, k: int) -> tuple[str, bool, str | None]:
    r = c.get("/api/v1/events/export", params={"format": "xlsx"})
    if r.status_code != 200:
        return _error_code(r), False, None
    return "200", True, None


def run_beside(*phases: Callable[[], PhaseResult]) -> list[PhaseResult]:
    """Phases started together, each in its own thread (each with its own clients and deadline)."""
    results: list[PhaseResult | BaseException | None] = [None] * len(phases)

    def run(i: int) -> None:
        try:
            results[i] = phases[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(phases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results  # type: ignore[return-value]


def server_errors_5xx(p: PhaseResult) -> int:
    return sum(v for k, v in p.errors.items() if k[:1] == "5")


def retry_step(w: Worker, c: httpx.Client, rnd: random.Random, k: int) -> tuple[str, bool, str | None]:
    body = w.sent[k]
    r = c.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
    if r.status_code != 200:
        return _error_code(r), False, None
    same = r.json().get("uuid") == json.loads(body)["uuid"]
    return "200", same, None if same else "200 with another event"


def _error_code(r: httpx.Response) -> str:
    try:
        return f"{r.status_code} {r.json()['error']['code']}"
    except Exception:  # noqa: BLE001 - any non-JSON body (a bare 500 is text/plain)
        return f"{r.status_code} {r.text[:40]!r}"


def recover(base: str, workers: list[Worker], seconds: float) -> Counter[str]:
    """What a phone does after an error: send the same body again. 200 = the first attempt was
    stored after all (the error came after the commit), 201 = it was not and is stored now."""
    out: Counter[str] = Counter()
    end = time.monotonic() + seconds
    for w in workers:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {w.token}"}) as c:
            for body in w.failed:
                if time.monotonic() > end:
                    out["not retried (time bound)"] += 1
                    continue
                try:
                    r = c.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
                    out["200" if r.status_code == 200 else "201" if r.status_code == 201 else _error_code(r)] += 1
                except httpx.HTTPError as exc:
                    out[type(exc).__name__] += 1
    return out


def server_exceptions(log: Path) -> Counter[str]:
    """Exception lines of the tracebacks in the server log (the last line of each chain)."""
    # module.path.ClassName (psycopg.errors.UniqueViolation too) or a bare builtin ...Error/...Exception
    pat = re.compile(r"^((?:[a-z_]\w*\.)+[A-Z]\w*|[A-Z]\w*(?:Error|Exception)): (.*)$")
    found: Counter[str] = Counter()
    try:
        for line in log.read_text(errors="replace").splitlines():
            m = pat.match(line)
            # "sqlalchemy.exc.X: (sqlite3.Y) …" re-raises the line before it; its own errors (pool timeouts) count
            if m and not (m.group(1).startswith("sqlalchemy.") and m.group(2).startswith("(")):
                found[f"{m.group(1)}: {re.sub(r'[0-9]+', 'N', m.group(2))[:100]}"] += 1  # ids, ports: one kind
    except OSError:
        pass
    return found


# ------------------------------------------------------------------ one back end


@dataclass
class BackendResult:
    backend: str
    version: str
    setup: str
    health: PhaseResult
    events: PhaseResult
    retry: PhaseResult
    export_writes: PhaseResult | None  # the export phase: writers' POSTs …
    exports: PhaseResult | None  # … and the exports beside them
    warmup_201: int
    db_counts: dict[str, int]
    created_201: int
    recovered: Counter[str]
    server_errors: Counter[str]
    limit: str

    @property
    def expected_rows(self) -> int:
        """201s, plus bodies that failed but turned out stored (200) or were stored on the re-send (201)."""
        return self.created_201 + self.recovered["200"] + self.recovered["201"]

    @property
    def exactly_once(self) -> bool:
        c = self.db_counts
        return (c["events"] == self.expected_rows == c["distinct_uuids"] == c["create_history"]
                and not self.unresolved)

    @property
    def unresolved(self) -> int:
        return sum(v for k, v in self.recovered.items() if k not in ("200", "201"))


def other_load_pct(cpu: CpuUse) -> float:
    """CPU used on the machine by processes other than ours (other tenants, background jobs), % of one core."""
    cores = os.cpu_count() or 1
    return max(0.0, cpu.machine_pct * cores - cpu.server_pct - cpu.client_pct - cpu.postgres_pct)


def cpu_line(cpu: CpuUse, backend: str) -> str:
    return (f"server {cpu.server_pct:.0f} %, load generator {cpu.client_pct:.0f} %"
            + (f", postgres {cpu.postgres_pct:.0f} %" if backend == "postgis" else "")
            + f", other processes {other_load_pct(cpu):.0f} % (each % of one core); "
            f"machine {cpu.machine_pct:.0f} % busy of {os.cpu_count()} cores")


def limiting_factor(backend: str, cpu: CpuUse, workers: int, server_errors: Counter[str]) -> str:
    locked = sum(v for k, v in server_errors.items() if "database is locked" in k)
    if locked:
        what = (f"the SQLite write lock: {locked} requests failed with 'database is locked' after the busy "
                "timeout (writes BEGIN IMMEDIATE, from the view's first query to its commit)")
    elif cpu.server_pct / workers >= 85:
        what = ("CPU of the single uvicorn worker (pure-Python HTTP, routing, validation, ORM, JSON; "
                "one process cannot use a second core)" if workers == 1 else "CPU of the uvicorn workers")
    elif cpu.machine_pct >= 90:
        what = "machine CPU: server, load generator, database and other processes share the cores"
    elif cpu.client_pct >= 85:
        what = "the load generator's CPU (one Python process of client threads)"
    elif backend == "sqlite":
        what = "waiting, not CPU: SQLite takes one writer at a time (BEGIN IMMEDIATE), commits queue"
    else:
        what = "waiting, not CPU: database round trips and commits"
    return what


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> BackendResult:
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        url = make_pg_database(args.pg_url, args.pg_database)
    env = bench_env(url, tmp, embedded_mqtt=args.embedded_mqtt)
    if args.sqlite_max_requests is not None:
        env["GRIDOPS_SQLITE_MAX_REQUESTS"] = str(args.sqlite_max_requests)
    server: Server | None = None
    try:
        setup = setup_demo(env, tmp, args.demo_days)
        version, before = db_facts(url)
        server = Server(env, tmp, args.workers, tmp / f"server-{backend}.log")
        server.wait_healthy()
        rng = np.random.default_rng(args.seed)
        workers = login_workers(server.base, args.clients, rng)
        common = dict(server_pid=server.proc.pid, pg_database=args.pg_database if backend == "postgis" else None,
                      seed=args.seed)

        # Warm-up (one event per client: connection pool, transformers, caches); counted in the exactly-once check.
        warm = run_phase("events", server.base, workers, post_step, seconds=None, max_requests=args.clients,
                         per_client=[1] * len(workers), **common)
        health = run_phase("health", server.base, workers, health_step, seconds=args.seconds,
                           max_requests=args.max_requests, per_client=None, **common)
        sessions0 = pg_stat_database(url, "sessions") if backend == "postgis" else None
        events = run_phase("events", server.base, workers, post_step, seconds=args.seconds,
                           max_requests=args.max_requests, per_client=None, **common)
        if sessions0 is not None:
            time.sleep(1.0)  # backends report their statistics at most once a second
            events.new_connections = pg_stat_database(url, "sessions") - sessions0 - 1
        # Retry: bodies already answered 201, spread over the clients that sent them.
        quota = [0] * len(workers)
        available = [len(w.sent) for w in workers]
        for n in range(min(args.retries, sum(available))):
            i = n % len(workers)
            while quota[i] >= available[i]:
                i = (i + 1) % len(workers)
            quota[i] += 1
        for w in workers:
            random.Random(args.seed).shuffle(w.sent)
        retry = run_phase("retry", server.base, workers, retry_step, seconds=args.seconds,
                          max_requests=args.max_requests, per_client=quota, **common)
        export_writes = exports = None
        if args.exporters:  # a long read (the whole district's export) beside the writers
            admins = login_exporters(server.base, args.exporters)
            writers = workers[:args.export_writers]
            export_writes, exports = run_beside(
                lambda: run_phase("events", server.base, writers, post_step, seconds=args.seconds,
                                  max_requests=args.max_requests, per_client=None, **common),
                lambda: run_phase("export", server.base, admins, export_step, seconds=args.seconds,
                                  max_requests=args.max_requests, per_client=None, **common))
        recovered = recover(server.base, workers, seconds=max(args.seconds, 30.0))
        server.stop()  # everything committed is in the database now
        _, after = db_facts(url)
        created = warm.ok + events.ok + (export_writes.ok if export_writes else 0)
        counts = {k: after[k] - before[k] for k in after}
        errs = server_exceptions(server.log_path)
        if warm.errors:  # count warm-up failures with the timed ones: the same server, the same bug
            events.errors.update(Counter({f"{k} (warm-up)": v for k, v in warm.errors.items()}))
        return BackendResult(backend, version, setup, health, events, retry, export_writes, exports, warm.ok, counts,
                             created, recovered,
                             errs, limiting_factor(backend, events.cpu, args.workers, errs))
    except Exception:
        if server is not None:
            server.print_log_tail(backend)
        raise
    finally:
        if server is not None:
            server.stop(args.server_logs)
        if backend == "postgis" and not args.keep_db:
            drop_pg_database_or_warn(args.pg_url, args.pg_database)


# ------------------------------------------------------------------ report


def _fmt_errors(c: Counter[str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(c.items())) if c else "none"


def print_result(r: BackendResult, args: argparse.Namespace) -> None:
    e, h, t = r.events, r.health, r.retry
    ratio = e.rate / h.rate if h.rate else float("nan")
    print(f"\n== backend: {r.backend} ==")
    print(f"database             : {r.version}")
    print(f"setup                : {r.setup}")
    print(f"clients              : {args.clients} (threads, httpx keep-alive), uvicorn workers: {args.workers}")
    print(f"health               : {h.rate:8.0f} req/s   p50 {h.pct(50):6.1f}  p95 {h.pct(95):6.1f}  "
          f"p99 {h.pct(99):6.1f} ms   {h.ok} in {h.elapsed:.1f} s   errors: {_fmt_errors(h.errors)}")
    print(f"  cpu                : {cpu_line(h.cpu, r.backend)}")
    print(f"events (POST, 201)   : {e.rate:8.0f} events/s   p50 {e.pct(50):6.1f}  p95 {e.pct(95):6.1f}  "
          f"p99 {e.pct(99):6.1f} ms   {e.ok} in {e.elapsed:.1f} s   errors: {_fmt_errors(e.errors)}")
    print(f"  cpu                : {cpu_line(e.cpu, r.backend)}")
    if e.new_connections is not None:
        print(f"  db connections     : {e.new_connections} new PostgreSQL sessions opened by the server during the "
              f"phase ({e.new_connections / e.elapsed:.1f}/s; the SQLAlchemy pool keeps 5, overflows to 15)")
    if e.notes:
        print(f"  notes              : {_fmt_errors(e.notes)}")
    if r.server_errors:
        print(f"  server tracebacks  : {_fmt_errors(r.server_errors)}")
    cost = 1 / ratio if ratio else float("nan")
    print(f"ratio events/health  : {ratio:.3f}  (1 event costs ~{cost:.1f} health requests)")
    print(f"retry (POST again)   : {t.rate:8.0f} req/s   p50 {t.pct(50):6.1f}  p95 {t.pct(95):6.1f}  "
          f"p99 {t.pct(99):6.1f} ms   {t.ok}/{t.requests} answered 200 with the first event in {t.elapsed:.2f} s   "
          f"errors: {_fmt_errors(t.errors)}")
    if t.notes:
        print(f"  notes              : {_fmt_errors(t.notes)}")
    w, x = r.export_writes, r.exports
    if w is not None and x is not None:
        print(f"export phase         : {w.rate:8.0f} events/s   p50 {w.pct(50):6.1f}  "
              f"p95 {w.pct(95):6.1f}  p99 {w.pct(99):6.1f} ms   {w.ok} in {w.elapsed:.1f} s by "
              f"{args.export_writers} writers   5xx: {server_errors_5xx(w)}   errors: {_fmt_errors(w.errors)}")
        print(f"  beside exports     : {x.ok} xlsx exports by {args.exporters} district admin(s), each "
              f"p50 {x.pct(50) / 1000:.2f} s  max {x.latencies_ms.max() / 1000 if x.latencies_ms.size else 0:.2f} s   "
              f"5xx: {server_errors_5xx(x)}   errors: {_fmt_errors(x.errors)}")
        print(f"  cpu                : {cpu_line(w.cpu, r.backend)}")
    if r.recovered:
        print(f"re-send after errors : {_fmt_errors(r.recovered)}  (200 = stored although the client saw an "
              f"error, 201 = stored only now)")
    print(f"exactly once         : {'OK' if r.exactly_once else 'MISMATCH'}: 201 responses {r.created_201} "
          f"(warm-up {r.warmup_201} + timed {e.ok}" + (f" + export phase {w.ok}" if w is not None else "") + ")"
          + (f" + {r.recovered['200']} stored despite an error + {r.recovered['201']} stored on re-send"
             if r.recovered else "")
          + f"; rows in event {r.db_counts['events']}, distinct uuids {r.db_counts['distinct_uuids']}, "
          f"create history rows {r.db_counts['create_history']}")
    print(f"limited by           : {r.limit}")
    busy = max(other_load_pct(h.cpu), other_load_pct(e.cpu))
    if busy >= 30:
        print(f"warning              : other processes on this machine used up to {busy:.0f} % of a core during "
              f"the run; figures that depend on CPU are lower than on an idle machine")


def machine_line() -> str:
    import sqlite3

    cpu_model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"machine              : {os.cpu_count()} CPUs ({cpu_model}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, sqlite3 module {sqlite3.sqlite_version}, httpx {httpx.__version__}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("gridops bench: sustained event submission through the HTTP API (POST /api/v1/events)")
    print(machine_line())
    print(f"run                  : {args.seconds:g} s per phase (cap {args.max_requests} requests), "
          f"{args.clients} clients, {args.retries} retries, export phase {args.export_writers} writers beside "
          f"{args.exporters} exporter(s), demo --days {args.demo_days}, "
          f"embedded MQTT {'on' if args.embedded_mqtt else 'off'}, seed {args.seed}")
    results, failed = for_each_backend(args.backend, lambda backend, tmp: run_backend(backend, args, tmp),
                                       lambda r: print_result(r, args), "gridops-bench")
    if len(results) > 1:
        print("\n== summary ==")
        print(f"{'backend':8} {'events/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'health/s':>9} "
              f"{'ratio':>6} {'retry/s':>8} {'errors':>6} {'exactly once':>12}  {'beside export: ev/s':>19} "
              f"{'p50':>6} {'p95':>6} {'exports':>7} {'5xx':>4}")
        for r in results:
            e, w, x = r.events, r.export_writes, r.exports
            exact = r.exactly_once
            beside = (f"{w.rate:19.0f} {w.pct(50):6.1f} {w.pct(95):6.1f} {x.ok:7d} "
                      f"{server_errors_5xx(w) + server_errors_5xx(x):4d}" if w is not None and x is not None else "")
            print(f"{r.backend:8} {e.rate:9.0f} {e.pct(50):7.1f} {e.pct(95):7.1f} {e.pct(99):7.1f} "
                  f"{r.health.rate:9.0f} {e.rate / r.health.rate:6.3f} {r.retry.rate:8.0f} "
                  f"{sum(e.errors.values()) + sum(r.retry.errors.values()):6d} {'yes' if exact else 'NO':>12}  {beside}")
    bad = failed or any(r.events.errors or r.retry.errors or r.retry.ok != r.retry.requests or not r.exactly_once
                        or (r.export_writes is not None and r.export_writes.errors)
                        or (r.exports is not None and (r.exports.errors or not r.exports.ok)) for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
