"""Benchmark 2,000 open live event feeds (GET /api/v1/events/feed) on one `gridops serve`.

Run:  .venv/bin/python bench/bench_feeds.py [--backend sqlite|postgis|both] [--feeds 2000] [--rate 4]
      [--seconds 60] [--modes shared,poll]

For each back end: a fresh demo database (bench_events' harness), then for each --modes entry a
`gridops serve` with GRIDOPS_FEED_MODE=shared (one reader per feed per process, server.feed_hub:
LISTEN/NOTIFY on PostgreSQL, one poll a second on SQLite) or poll (the old loop: one poll per open
stream per second), the baseline, measured in the same run on the same database.

--feeds SSE connections (raw asyncio streams in this process) are opened from the feed's current
cursor, split across territories: 20% the district (admin, command), 40% the six street admins,
40% the first --writers grid workers. Those workers then POST events into their own grids at a
steady --rate a second in total for --seconds. Figures: delivery delay of each `create` message to
each connection whose territory holds it (from the POST being sent, so the POST's own time is
included: an upper bound), p50/p95/max; messages lost, duplicated or out of order against
`/events/changes` read afterwards as each user (the territory rule in SQL); database transactions a
second (PostgreSQL: pg_stat_database xact_commit + xact_rollback, the writers' included); server
CPU and peak RSS; the CPU other tenants used meanwhile (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import bench_parser, for_each_backend  # noqa: E402 - bench/, the script's own folder
from bench_events import (  # noqa: E402 - the shared harness: server, database, CPU accounting
    DEFAULT_PG_URL, PASSWORD, CpuUse, Worker, bench_database, bench_env, cpu_snapshot, event_body, login_workers,
    machine_line, other_load_pct, pg_stat_database, served, setup_demo, tree_memory_mb,
)

MESSAGE = re.compile(rb'id: (\d+)\r?\nevent: (\w+)\r?\ndata: [^\n]*?"event_uuid": "([0-9a-f-]+)"')
STREET_ADMINS = [f"street{n:02d}" for n in range(1, 7)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir (the embedded default); postgis = --pg-url")
    p.add_argument("--feeds", type=int, default=2000, help="open SSE connections")
    p.add_argument("--writers", type=int, default=40, help="grid workers who POST events (and hold 40%% of the feeds)")
    p.add_argument("--rate", type=float, default=4.0, help="events POSTed a second, all writers together")
    p.add_argument("--seconds", type=float, default=60.0, help="how long the writers write, per mode")
    p.add_argument("--modes", default="shared,poll", help="GRIDOPS_FEED_MODE values to measure, in order")
    p.add_argument("--open-rate", type=float, default=400.0, help="connections opened a second")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL admin URL (creates --pg-database)")
    p.add_argument("--pg-database", default="gridops_bench_feeds")
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--demo-days", type=int, default=0)
    p.add_argument("--server-logs", metavar="DIR")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(args.modes) <= {"shared", "poll"} or not args.modes:
        p.error("--modes: shared and/or poll")
    if args.feeds < 10 or not 1 <= args.writers <= 288 or args.rate <= 0 or args.seconds <= 0:
        p.error("--feeds >= 10, --writers 1..288, --rate and --seconds > 0")
    return args


# ------------------------------------------------------------------ the feeds


@dataclass(eq=False)
class Feed:
    user: str
    status: int | None = None
    ids: list[int] = field(default_factory=list)
    creates: dict[str, float] = field(default_factory=dict)  # event uuid → when its message arrived
    error: str | None = None
    closed_at: float | None = None  # the server ended the stream (before the bench did)


async def read_feed(feed: Feed, port: int, token: str, cursor: int, seconds: float, opened: asyncio.Event) -> None:
    """One SSE stream over a raw socket (HTTP/1.0: no chunking, the body ends with the connection)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    except OSError as exc:
        feed.error = f"connect: {exc.strerror or exc}"
        opened.set()
        return
    writer.write((f"GET /api/v1/events/feed?cursor={cursor}&seconds={seconds:.0f}&poll=1.0 HTTP/1.0\r\n"
                  f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
    buf = b""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        feed.status = int(head.split(b" ", 2)[1])
        opened.set()
        while chunk := await reader.read(1 << 16):
            now = time.monotonic()
            buf += chunk
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                continue
            for m in MESSAGE.finditer(buf, 0, cut + 2):
                feed.ids.append(int(m.group(1)))
                if m.group(2) == b"create":
                    feed.creates.setdefault(m.group(3).decode(), now)
            buf = buf[cut + 2:]
        feed.closed_at = time.monotonic()
    except (OSError, asyncio.IncompleteReadError) as exc:
        feed.error = type(exc).__name__
        opened.set()
    finally:
        writer.close()


def last_arrival(feeds: list[Feed]) -> float:
    return max((max(f.creates.values()) for f in feeds if f.creates), default=0.0)


def tokens(base: str, names: list[str]) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as c:
        out = {}
        for name in names:
            r = c.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            r.raise_for_status()
            out[name] = r.json()["access_token"]
        return out


def feed_users(n: int, writers: list[str]) -> list[str]:
    district, street = n // 5, 2 * n // 5
    users = [("admin", "command")[i % 2] for i in range(district)]
    users += [STREET_ADMINS[i % len(STREET_ADMINS)] for i in range(street)]
    users += [writers[i % len(writers)] for i in range(n - district - street)]
    return users


def last_cursor(url: str) -> int:
    from sqlalchemy import text

    from server.database.core import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM event_history")).scalar_one())
    finally:
        engine.dispose()


def changes(base: str, token: str, cursor: int) -> list[int]:
    """Every change after `cursor` the token's user may see, by the paged endpoint (the truth)."""
    ids: list[int] = []
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
        while True:
            page = c.get("/api/v1/events/changes", params={"cursor": cursor, "limit": 500}).json()
            ids += [ch["cursor"] for ch in page["changes"]]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return ids


def write_events(base: str, writers: list[Worker], rate: float, seconds: float, seed: int,
                 sent: dict[str, float], statuses: Counter[int | str]) -> None:
    """POST at a steady rate (a thread: the feeds' event loop does not delay the sends)."""
    rnd = random.Random(seed)
    start = time.monotonic()
    with httpx.Client(base_url=base, timeout=min(30.0, seconds)) as c:  # a starved server: the phase still ends
        k = 0
        while (due := start + k / rate) < start + seconds and time.monotonic() < start + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            w = writers[k % len(writers)]
            body = event_body(w, rnd, k)
            uuid = re.search(rb'"uuid": "([0-9a-f-]+)"', body).group(1).decode()  # type: ignore[union-attr]
            t = time.monotonic()
            try:
                r = c.post("/api/v1/events", content=body, headers={"Authorization": f"Bearer {w.token}",
                                                                    "Content-Type": "application/json"})
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    sent[uuid] = t
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            k += 1


@dataclass
class ModeResult:
    mode: str
    feeds: int
    opened: int
    open_s: float
    errors: Counter[str]
    events: int
    post_statuses: Counter[int | str]
    delays: np.ndarray
    expected: int
    received: int
    lost: int
    duplicated: int
    out_of_order: int
    cpu: CpuUse
    rss_mb: float
    tx_per_s: float | None
    seconds: float


async def run_feeds(base: str, port: int, feeds: list[Feed], toks: dict[str, str], cursor: int, stream_s: float,
                    open_rate: float) -> tuple[list[asyncio.Task[None]], int, float]:
    t0 = time.monotonic()
    tasks, events = [], []
    for i, f in enumerate(feeds):
        opened = asyncio.Event()
        events.append(opened)
        tasks.append(asyncio.create_task(read_feed(f, port, toks[f.user], cursor, stream_s, opened)))
        await asyncio.sleep(max(0.0, t0 + (i + 1) / open_rate - time.monotonic()))
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=120)
    return tasks, sum(f.status == 200 for f in feeds), time.monotonic() - t0


def run_mode(mode: str, backend: str, args: argparse.Namespace, url: str, env: dict[str, str],
             tmp: Path) -> ModeResult:
    env = {**env, "GRIDOPS_FEED_MODE": mode}
    with served(f"{backend}-{mode}", env, tmp, 1, args.server_logs) as server:
        rng = np.random.default_rng(args.seed)
        writers = login_workers(server.base, args.writers, rng)
        names = feed_users(args.feeds, [w.username for w in writers])
        toks = tokens(server.base, sorted(set(names) - {w.username for w in writers}))
        toks.update({w.username: w.token for w in writers})
        cursor = last_cursor(url)
        feeds = [Feed(n) for n in names]
        stream_s = 3600  # the longest a stream may ask for: the bench ends them itself

        async def main() -> tuple[int, float, CpuUse, float, float | None, dict[str, float], Counter[int | str]]:
            tasks, opened, open_s = await run_feeds(server.base, server.port, feeds, toks, cursor, stream_s,
                                                    args.open_rate)
            await asyncio.sleep(3)  # the last connections read their (empty) backlog
            tx0 = pg_stat_database(url, "xact_commit + xact_rollback") if backend == "postgis" else None
            cpu0 = cpu_snapshot(server.proc.pid, args.pg_database if backend == "postgis" else None)
            sent: dict[str, float] = {}
            statuses: Counter[int | str] = Counter()
            writer = threading.Thread(target=write_events, args=(server.base, writers, args.rate, args.seconds,
                                                                 args.seed, sent, statuses))
            t0 = time.monotonic()
            writer.start()
            while writer.is_alive():
                await asyncio.sleep(0.2)
            quiet = time.monotonic()  # the last events reach the feeds: until none arrived for 3 s (30 s at most)
            while time.monotonic() - max(quiet, last_arrival(feeds)) < 3 and time.monotonic() - quiet < 30:
                await asyncio.sleep(0.5)
            elapsed = time.monotonic() - t0
            cpu1 = cpu_snapshot(server.proc.pid, args.pg_database if backend == "postgis" else None)
            tx = None
            if tx0 is not None:
                await asyncio.sleep(1.0)  # backends report their statistics at most once a second
                tx = (pg_stat_database(url, "xact_commit + xact_rollback") - tx0 - 2) / elapsed
            rss = tree_memory_mb(server.proc.pid, "VmHWM")
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return opened, open_s, CpuUse.between(cpu0, cpu1), rss, tx, sent, statuses

        opened, open_s, cpu, rss, tx, sent, statuses = asyncio.run(main())
        truth = {name: changes(server.base, toks[name], cursor) for name in set(names)}
    delays, errors = [], Counter(f.error for f in feeds if f.error and f.status != 200)
    expected = received = lost = duplicated = disorder = 0
    losers: Counter[str] = Counter()
    for f in feeds:
        if f.status != 200:
            continue
        want = truth[f.user]
        expected += len(want)
        received += len(f.ids)
        missing = set(want) - set(f.ids)
        lost += len(missing)
        if missing:
            losers[f"{_kind(f.user)}{' (closed early)' if f.closed_at else ''}{' error ' + f.error if f.error else ''}"
                   f" first lost #{min(missing) - cursor} of {len(want)}"] += 1
        duplicated += len(f.ids) - len(set(f.ids))
        disorder += sum(a >= b for a, b in zip(f.ids, f.ids[1:]))
        delays += [at - sent[u] for u, at in f.creates.items() if u in sent]
    if losers:
        print(f"   {mode}: feeds that lost messages: {dict(losers.most_common(12))}", file=sys.stderr)
    return ModeResult(mode, len(feeds), opened, open_s, errors, len(sent), statuses, np.array(delays), expected,
                      received, lost, duplicated, disorder, cpu, rss, tx, args.seconds)


@dataclass
class BackendResult:
    backend: str
    setup: str
    modes: list[ModeResult]


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> BackendResult:
    with bench_database(backend, tmp, args.pg_url, args.pg_database, keep=args.keep_db) as url:
        env = bench_env(url, tmp, embedded_mqtt=False)
        setup = setup_demo(env, tmp, args.demo_days)
        return BackendResult(backend, setup, [run_mode(m, backend, args, url, env, tmp) for m in args.modes])


def show(r: BackendResult) -> None:
    print(f"\n== backend: {r.backend} ==  ({r.setup})")
    for m in r.modes:
        d = m.delays

        def pct(q: float, d: np.ndarray = d) -> str:
            return f"{np.percentile(d, q):.2f}" if d.size else "-"
        print(f"-- GRIDOPS_FEED_MODE={m.mode}: {m.opened:,} of {m.feeds:,} feeds open in {m.open_s:.1f} s"
              + (f" (failed: {dict(m.errors)})" if m.errors else ""))
        print(f"   {m.events:,} events POSTed in {m.seconds:.0f} s (statuses {dict(m.post_statuses)}); "
              f"{d.size:,} create messages timed")
        print(f"   delivery delay (POST sent → message received), s: p50 {pct(50)}  p95 {pct(95)}  "
              f"max {f'{d.max():.2f}' if d.size else '-'}   (goal p95 < 2 s)")
        print(f"   messages: {m.received:,} received of {m.expected:,} expected; lost {m.lost:,}, "
              f"duplicated {m.duplicated:,}, out of order {m.out_of_order:,}")
        tx = f"{m.tx_per_s:,.0f} database transactions/s (writers included)" if m.tx_per_s is not None else \
            "SQLite: no statement counter (the poll mode does feeds/poll = one read per stream a second)"
        print(f"   {tx}")
        print(f"   server CPU {m.cpu.server_pct:.0f}% of a core, PostgreSQL {m.cpu.postgres_pct:.0f}%, "
              f"this client {m.cpu.client_pct:.0f}%, other tenants {other_load_pct(m.cpu):.0f}%; "
              f"server peak RSS {m.rss_mb:,.0f} MB")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client holds --feeds sockets too
    print(machine_line())
    print(f"{args.feeds:,} feeds ({', '.join(f'{k} {v}' for k, v in Counter(_kind(u) for u in feed_users(args.feeds, [f'w{i:03d}' for i in range(1, args.writers + 1)])).items())}), "
          f"{args.rate:g} events/s for {args.seconds:g} s by {args.writers} workers; open files limit {hard:,}")
    _, failed = for_each_backend(args.backend, lambda b, tmp: run_backend(b, args, tmp), show, "bench-feeds")
    return 1 if failed else 0


def _kind(user: str) -> str:
    return "district" if user in ("admin", "command") else "street" if user.startswith("street") else "worker"


if __name__ == "__main__":
    sys.exit(main())
