"""Benchmark the event export (GET /api/v1/events/export, CSV and xlsx) on a district's 100,000 events,
streamed page by page, against the in-memory export it replaced, on SpatiaLite and on PostGIS.

Run:  .venv/bin/python bench/bench_export.py [--backend sqlite|postgis|both] [--events 100000]
          [--baseline-events 15000] [--baseline-ref 4cf51ff] [--no-baseline]

For each back end: a fresh database (a temp dir for SQLite, --pg-database for PostGIS), `gridops db
upgrade` and `gridops demo` as subprocesses (bench/bench_events.py's harness), then --events events
bulk inserted in the demo district (SQLAlchemy Core, batches in one transaction): spread over the
288 demo grids and the year before now, reported by each grid's worker, every category, a quarter
closed, addresses and descriptions of realistic length, serials numbered. `gridops serve` starts on
a free port and the demo's district admin (who sees the whole district) downloads:
  (1) the whole district (all --events and the demo's own), CSV then xlsx;
  (2) the --baseline-events most recent events (a reported_from filter; the issue's district year
      was 14,723 events), CSV then xlsx, with this code and with the in-memory export of
      --baseline-ref: its tree (`git archive`) served by a second `gridops serve` on the same
      database, one server at a time.
Each download is timed from the request to its first body byte (time to first byte) and to its
last (total), in MB/s; the server's resident memory (VmRSS of its process tree, sampled every
20 ms) is reported before the download and at its peak during it. Every file is checked: the CSV's
rows are counted, the xlsx's sheet rows are counted from its XML. The CPU other processes used
meanwhile is printed beside the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _harness import bench_parser, for_each_backend  # noqa: E402 - bench/, the script's own folder
from bench_events import (  # noqa: E402
    PASSWORD, CpuUse, tree_memory_mb, bench_database, bench_env, cpu_snapshot, machine_line, other_load_pct,
    served, setup_demo,
)

DEFAULT_PG_URL = "postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_test"
DISTRICT = "440112"
BATCH = 5000
SERIAL_BASE = 500_000  # numbers above the demo's own, so the unique serials never collide
DESCRIPTIONS = ["楼道内堆放杂物，堵塞消防通道，多次劝导未清理，居民反映强烈，请尽快处理",
                "路边垃圾堆放", "电动车在楼道内充电，存在火灾隐患",
                "小区东门外下水道井盖缺失，夜间行人经过有坠落危险，已设置临时警示，需市政部门更换井盖",
                "出租屋未登记，住户约六人"]
ADDRESSES = ["黄埔东路1号", "开创大道2号3栋", "", "香雪三路18号大院内东侧自行车棚旁"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir (the embedded default); postgis = --pg-url")
    p.add_argument("--events", type=int, default=100_000, help="events bulk inserted in the demo district")
    p.add_argument("--baseline-events", type=int, default=15_000,
                   help="the most recent events exported by both the new and the old export (the issue: 14,723)")
    p.add_argument("--baseline-ref", default="4cf51ff",
                   help="git revision of the export to compare with: the default is the in-memory export (the last commit "
                        "before the streaming one); an earlier streaming export (e.g. main) compares writers")
    p.add_argument("--no-baseline", action="store_true", help="skip the old export (and its second server)")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_TEST_POSTGRES_URL", DEFAULT_PG_URL),
                   help="PostgreSQL URL for the admin connection that creates --pg-database; "
                        "$GRIDOPS_TEST_POSTGRES_URL, if set, is the default")
    p.add_argument("--pg-database", default="gridops_bench_export",
                   help="database the PostGIS run drops and recreates (never the one in --pg-url)")
    p.add_argument("--keep-db", action="store_true", help="keep the PostGIS bench database afterwards")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the generated events")
    args = p.parse_args(argv)
    if not 1 <= args.events < 1_000_000 - SERIAL_BASE or args.baseline_events < 1:
        p.error(f"--events must be 1..{1_000_000 - SERIAL_BASE - 1} (six-digit serials), --baseline-events >= 1")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.pg_database):
        p.error("--pg-database must be a plain lower-case identifier")
    return args


# ------------------------------------------------------------------ data


def insert_events(url: str, n: int, seed: int) -> float:
    """n events in the demo's grids over the year before now; returns the seconds it took."""
    from geoalchemy2 import functions as gf
    from sqlalchemy import insert, select

    from server.database.core import make_engine
    from server.events.models import Event, EventCategory
    from server.grids.models import Grid, GridAssignment

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            grids = conn.execute(select(Grid.id, Grid.code, gf.ST_X(gf.ST_PointOnSurface(Grid.geom)),
                                        gf.ST_Y(gf.ST_PointOnSurface(Grid.geom)))
                                 .where(Grid.code.startswith(DISTRICT)).order_by(Grid.id)).all()
            worker = dict(conn.execute(select(GridAssignment.grid_id, GridAssignment.user_id)
                                       .where(GridAssignment.valid_to.is_(None))).all())
            categories = [c for c, in conn.execute(select(EventCategory.code)
                                                   .where(EventCategory.parent_code.is_not(None)))]
            now = datetime.now(UTC)
            g = rng.integers(0, len(grids), n)
            offset_s = np.sort(rng.integers(600, 365 * 86400, n))[::-1]  # ids follow reporting order
            cat, desc, addr = rng.integers(0, len(categories), n), rng.integers(0, 5, n), rng.integers(0, 4, n)
            closed = rng.random(n) < 0.25
            for lo in range(0, n, BATCH):
                rows: list[dict[str, Any]] = []
                for i in range(lo, min(n, lo + BATCH)):
                    gid, code, lon, lat = grids[int(g[i])]
                    at = now - timedelta(seconds=int(offset_s[i]))
                    due = at + timedelta(days=7)
                    done = at + timedelta(days=2) if closed[i] else None
                    rows.append({
                        "uuid": f"00000000-0000-4000-8000-{seed % 10000:04d}{i:08d}", "request_hash": "bench",
                        "serial": f"{DISTRICT}-{at.astimezone(UTC).year}-{SERIAL_BASE + i:06d}",
                        "category_code": categories[int(cat[i])], "description": DESCRIPTIONS[int(desc[i])],
                        "address": ADDRESSES[int(addr[i])] or None, "geom": f"SRID=4490;POINT({lon!r} {lat!r})",
                        "lon": lon, "lat": lat, "source_datum": "cgcs2000", "gps_accuracy_m": 8.0,
                        "reporter_id": worker.get(gid, 1), "grid_id": gid, "street_code": code[:9] + "000",
                        "state": "closed" if done else "dispatched", "reported_at": at, "created_at": at,
                        "updated_at": done or at, "due_at": None, "closure_due_at": due, "step_overdue": False,
                        "overdue": False, "closed_at": done, "closed_on_time": True if done else None,
                        "dispatched_to": "区城管执法局", "photos": []})
                conn.execute(insert(Event.__table__), rows)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE event")
    finally:
        engine.dispose()
    return time.perf_counter() - t0


def window(url: str, k: int) -> tuple[str, int, int]:
    """(reported_from, events at or after it, all events of the district) for the k most recent events."""
    from sqlalchemy import func, select

    from server.database.core import make_engine
    from server.events.models import Event

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(Event)).scalar_one()
            start = conn.execute(select(Event.reported_at).order_by(Event.reported_at.desc())
                                 .offset(min(k, total) - 1).limit(1)).scalar_one()
            count = conn.execute(select(func.count()).where(Event.reported_at >= start)).scalar_one()
        return start.astimezone(UTC).isoformat(), count, total
    finally:
        engine.dispose()


# ------------------------------------------------------------------ measuring one download


@dataclass
class Download:
    label: str
    fmt: str
    rows: int  # data rows found in the file
    expected: int
    size: int
    ttfb_s: float
    total_s: float
    rss_before_mb: float
    rss_peak_mb: float
    other_load_pct: float
    server_cpu_s: float  # CPU seconds of the server's process tree during the download

    @property
    def ok(self) -> bool:
        return self.rows == self.expected


def counted_rows(fmt: str, path: Path) -> int:
    if fmt == "csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return sum(1 for _ in csv.reader(f)) - 1
    with zipfile.ZipFile(path) as z, z.open("xl/worksheets/sheet1.xml") as sheet:
        n, tail = 0, b""
        while chunk := sheet.read(1 << 20):
            n += (tail + chunk).count(b"<row ") - tail.count(b"<row ")
            tail = chunk[-8:]
        return n - 1


def download(base: str, token: str, pid: int, label: str, fmt: str, params: dict[str, str], expected: int,
             pg_database: str | None) -> Download:
    before = tree_memory_mb(pid)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_memory_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu0 = cpu_snapshot(pid, pg_database)
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}", delete=False) as out:
        path = Path(out.name)
        try:
            t0 = time.perf_counter()
            ttfb = None
            with httpx.Client(base_url=base, timeout=1800) as c, \
                    c.stream("GET", "/api/v1/events/export", params={**params, "format": fmt},
                             headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status_code != 200:
                    r.read()
                    raise RuntimeError(f"export {label} {fmt}: {r.status_code} {r.text[:300]}")
                for chunk in r.iter_raw(1 << 16):
                    if ttfb is None:
                        ttfb = time.perf_counter() - t0
                    out.write(chunk)
            total = time.perf_counter() - t0
        finally:
            stop.set()
            sampler.join()
    cpu1 = cpu_snapshot(pid, pg_database)
    cpu = CpuUse.between(cpu0, cpu1)
    try:
        return Download(label, fmt, counted_rows(fmt, path), expected, path.stat().st_size, ttfb or total, total,
                        before, peak[0], other_load_pct(cpu), cpu1.server - cpu0.server)
    finally:
        path.unlink()


def login(base: str) -> str:
    r = httpx.post(base + "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def old_tree(ref: str, tmp: Path) -> Path:
    """The source of `ref` (git archive into tmp), to serve the in-memory export on the same database."""
    folder = tmp / "baseline"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


# ------------------------------------------------------------------ one back end


@dataclass
class Result:
    backend: str
    setup: str
    events: int
    window_events: int
    downloads: list[Download]


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> Result:
    pg_db = args.pg_database if backend == "postgis" else None
    with bench_database(backend, tmp, args.pg_url, args.pg_database, keep=args.keep_db) as url:
        env = bench_env(url, tmp, embedded_mqtt=False)
        setup = setup_demo(env, tmp, 0)
        took = insert_events(url, args.events, args.seed)
        setup += f", {args.events:,} events inserted in {took:.1f} s"
        since, in_window, total = window(url, args.baseline_events)
        recent = {"reported_from": since}
        downloads: list[Download] = []
        with served(backend, env, tmp, 1, None) as server:
            token = login(server.base)
            pid = server.proc.pid
            download(server.base, token, pid, "warm-up", "csv", {"reported_from": since}, in_window, pg_db)
            for fmt in ("csv", "xlsx"):
                downloads.append(download(server.base, token, pid, "district, streamed", fmt, {}, total, pg_db))
            for fmt in ("csv", "xlsx"):
                downloads.append(download(server.base, token, pid, "recent, streamed", fmt, recent, in_window, pg_db))
        if not args.no_baseline:
            old = old_tree(args.baseline_ref, tmp)
            old_env = {**env, "PYTHONPATH": str(old)}
            with served(f"{backend}-baseline", old_env, old, 1, None) as server:
                token = login(server.base)
                for fmt in ("csv", "xlsx"):
                    downloads.append(download(server.base, token, server.proc.pid, f"recent, baseline {args.baseline_ref}",
                                              fmt, recent, in_window, pg_db))
        return Result(backend, setup, total, in_window, downloads)


def show(r: Result) -> None:
    print(f"\n== backend: {r.backend} ==")
    print(f"setup                : {r.setup}")
    print(f"district             : {r.events:,} events; recent window: {r.window_events:,} events")
    print(f"{'export':34} {'fmt':4} {'rows':>8} {'MB':>7} {'first byte s':>12} {'total s':>8} {'CPU s':>6} {'MB/s':>6} "
          f"{'µs/event':>8} {'RSS before':>10} {'RSS peak':>9} {'other load':>10}")
    for d in r.downloads:
        mb = d.size / 1e6
        print(f"{d.label:34} {d.fmt:4} {d.rows:8,d} {mb:7.1f} {d.ttfb_s:12.2f} {d.total_s:8.2f} {d.server_cpu_s:6.1f} {mb / d.total_s:6.1f} "
              f"{1e6 * d.total_s / max(d.rows, 1):8.0f} {d.rss_before_mb:8.0f}MB {d.rss_peak_mb:7.0f}MB "
              f"{d.other_load_pct:8.0f} %" + ("" if d.ok else f"  ROWS WRONG: expected {d.expected:,}"))
    new = {d.fmt: d for d in r.downloads if d.label == "recent, streamed"}
    for d in r.downloads:
        if d.label.startswith("recent, baseline") and d.fmt in new:
            n = new[d.fmt]
            print(f"speed-up on the recent window, {d.fmt}: {d.total_s / n.total_s:.1f}x total time, "
                  f"server CPU {d.server_cpu_s:.1f} -> {n.server_cpu_s:.1f} s, "
                  f"first byte {d.ttfb_s:.1f} s -> {n.ttfb_s:.2f} s, memory growth {d.rss_peak_mb - d.rss_before_mb:.0f} MB "
                  f"-> {n.rss_peak_mb - n.rss_before_mb:.0f} MB")
    print("issue 17's figures (14,723 events, nothing else running): 27.3 s CSV, 33.7 s xlsx = "
          f"{27.3e6 / 14723:.0f} and {33.7e6 / 14723:.0f} µs per event")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("gridops bench: event export (GET /api/v1/events/export), streamed, against the in-memory export")
    print(machine_line())
    print("note                 : the machine is shared with other jobs; see 'other load' (% of one core) per row")
    results, failed = for_each_backend(args.backend, lambda backend, tmp: run_backend(backend, args, tmp), show,
                                       "gridops-bench-export")
    return 1 if failed or any(not d.ok for r in results for d in r.downloads) else 0


if __name__ == "__main__":
    sys.exit(main())
