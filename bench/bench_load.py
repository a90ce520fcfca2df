"""Load test of issue 17: 2,000 simulated users with think time (grid workers, street staff, command-centre pages) on one or more `gridops serve` processes.

Run:  .venv/bin/python bench/bench_load.py [--backend sqlite|postgis|both] [--users 2000] [--seconds 600]
      [--servers 2] [--workers 1] [--client-procs 2] [--ramp 60] [--pg-url postgresql+psycopg://…/gridops_load]
Quick check: bench/bench_load.py --backend postgis --users 200 --seconds 60 --ramp 10 --demo-days 30

For each back end: a fresh database (a temp dir for SQLite; the database named in --pg-url, dropped
and created again, for PostGIS), `gridops db upgrade` and `gridops demo --days N` as subprocesses,
then --servers `gridops serve --workers N` processes on free loopback ports, all on that one
database (the server, database and /proc accounting of bench_events.py). The users are split over
the servers (user i on server i mod --servers) and run in --client-procs client processes (one
asyncio loop with aiohttp each; user i in process i mod --client-procs), which the bench merges.
The simulated users speak aiohttp: its client costs about a third of httpx's AsyncClient's CPU per
answer (1.2 ms against 3.2 ms measured at this mix, the photos made with Pillow included), and the
load generator shares the cores with what it measures. The set-up (logins) and the cross-check after
the window use httpx's plain synchronous client.

Personas, in the issue's proportions (90 % / 7.5 % / 2.5 % of --users: 1,800 / 150 / 50):
  grid workers   the phone app (mobile/sync.py, mobile/service.py): a sync every --sync-seconds
                 (first one at a random moment of the ramp): POST /app/sessions, on the first sync
                 GET /events?page_size=100&sort=-updated_at, then GET /events/changes?cursor=…&limit=500
                 until has_more is false, then each changed event (GET /events/{uuid}; more than 50:
                 one events page instead). Between syncs, on average every --report-minutes, a
                 report (POST /events: fresh uuid, a point inside the worker's grid, wgs84 or gcj02)
                 or, --visit-share of the time, a visit (POST /visits, check-ins inside the grid);
                 --photo-share of the reports are followed by a photo, as the app sends it after the
                 event: POST /photos (a fresh 640x480 JPEG made with Pillow), then
                 POST /events/{uuid}/photos.
  street staff   the dashboard's desk work, one action every --staff-think seconds on average: the
                 street's event list with filters (state, category, last 7 days, overdue), pages and
                 sorts; an event's detail; an action (the list of events in one state, one of them
                 opened, then POST /events/{uuid}/transitions with an Idempotency-Key along
                 reported→accepted→dispatched→handled→closed, the steps the street admin's role may
                 take); an export of the street's last 30 days (GET /events/export, csv or xlsx).
  command pages  the dashboard page held open: at opening GET /devices/geojson and the newest event
                 cursor (the page's search on /events/changes?limit=1), then the live event feed
                 GET /events/feed and the device feed GET /devices/feed held open as Server-Sent
                 Events (the server ends a stream after --feed-seconds; the page reconnects with
                 Last-Event-ID), and the indicator board refreshed every --board-seconds: GET
                 /indicators, GET /indicators/closure_rate/series, GET /indicators/areas at
                 level=grid and level=street (the map's colours). Pages alternate the month and the
                 year as the period.

Accounts: the demo has 288 grid workers (w001..w288), 6 street admins (street01..06), `command` and
`admin`. Simulated users share them: grid worker i is w(i mod 288 + 1), street staff j is
street(j mod 6 + 1), command pages alternate `command` and `admin`. Each account logs in once
(one token) and every simulated user has its own connections, think time, sync cursor and feeds:
the load is that of distinct people (per-account state such as the app-session row of the day is
shared, as it would be for colleagues on one account).

Timeline: the command pages open during the first 5 s; workers and staff start at a random moment
of --ramp seconds; the measurement window is the --seconds after the ramp (requests started in it);
users stop at its end, feeds are closed --grace seconds later. Every event a worker posted is
timestamped (send time and 201 time, wall clock: all client processes are on this machine); its
arrival on each open event feed gives the feed delay (from the POST's start to the message), and an
event answered 201 after a page's feed started that never arrives on it is lost (goal: 0).
With --servers 2 the delays and losses are also shown per (server posted on -> server of the feed),
and at the end the last events posted through each server are read on the other one (detail and
list): the servers share nothing but the database.

Printed per request type: count, answers/s, p50/p95/p99/max latency, 4xx by code, 5xx, time-outs,
closed connections; throughput; server CPU (all server processes), the client processes' own CPU
(they share the 2 cores with the servers and the database: said beside every figure), PostgreSQL's
CPU, other processes' CPU; memory (RSS of all server processes, sampled every 0.5 s); database
connections (pg_stat_activity, sampled); feed delay p50/p95/max and events lost; what limited it.
Goals (issue 17): no errors (5xx, time-outs, lost connections; 4xx listed by code; a 409 to a street
staff's transition is not one when reading the event again shows a colleague moved it first: two
people acting on one event at once, answered right), p95 < 1 s for
interactive requests, every statistic (indicators, exports) < 10 s, feed delay p95 < 2 s, 0 events
lost. Exit status 1 if a goal is missed or a server died (everything is printed first).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import re
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo

import aiohttp
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import bench_parser, for_each_backend  # noqa: E402
from bench_events import (  # noqa: E402 - the same harness: server, database, /proc accounting, clients
    PASSWORD, CpuSnapshot, CpuUse, Server, Worker, _error_code, _proc_cpu_s, _tree, bench_database, bench_env, cpu_line,
    cpu_snapshot, db_facts, event_body, limiting_factor, login_workers, machine_line, other_load_pct, served,
    server_exceptions, setup_demo, tree_memory_mb,
)
from mobile.api import APP_VERSION  # noqa: E402 - bench_events put the project on sys.path

DEFAULT_PG_URL = "postgresql+psycopg://gridops:gridops@127.0.0.1:5432/gridops_load"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFLICT = "409 moved by a colleague first"  # a 409 the bench checked: the event's state had moved on
SAMPLE_S = 0.5  # memory and connection sampling interval
SEEN_UUIDS = 64  # event uuids a street staff member remembers for detail requests
DEMO_WORKERS = 288  # w001..w288
STREETS = 6  # street01..06
API = "/api/v1"
PAGES_OPEN_S = 5.0  # the command pages open during the first seconds, before the reports start
INTERACTIVE_P95_S, STATISTIC_MAX_S, FEED_P95_S = 1.0, 10.0, 2.0  # the goals
STATISTICS = ("board: ", "staff: export")  # request types that are statistics (goal: each < 10 s)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = bench_parser(__doc__, "sqlite = SQLite + SpatiaLite in a temp dir (the embedded default); postgis = --pg-url")
    p.add_argument("--users", type=int, default=2000,
                   help="simulated users: 90 %% grid workers, 7.5 %% street staff, 2.5 %% command pages")
    p.add_argument("--seconds", type=float, default=None,
                   help="measurement window after the ramp; default 600 on PostGIS, 120 on SQLite")
    p.add_argument("--ramp", type=float, default=60.0, help="workers and staff start at a random moment of this")
    p.add_argument("--servers", type=int, default=None,
                   help="`gridops serve` processes on the same database (users split between them); "
                        "default 2 on PostGIS (statelessness shown), 1 on SQLite")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes per server (`--workers`)")
    p.add_argument("--client-procs", type=int, default=None,
                   help="load-generating processes (asyncio + aiohttp each); default 1 up to 500 users, else 2")
    p.add_argument("--sync-seconds", type=float, default=60.0, help="a grid worker's sync interval")
    p.add_argument("--report-minutes", type=float, default=4.0,
                   help="mean time between a grid worker's reports or visits (exponential)")
    p.add_argument("--visit-share", type=float, default=0.4, help="share of those that are visits, not reports")
    p.add_argument("--photo-share", type=float, default=0.3, help="share of reports followed by a photo")
    p.add_argument("--staff-think", type=float, default=20.0, help="mean seconds between a street staff action")
    p.add_argument("--board-seconds", type=float, default=60.0, help="a command page's indicator board refresh")
    p.add_argument("--feed-seconds", type=float, default=300.0,
                   help="the feeds' `seconds` (the server ends a stream after it, the page reconnects); "
                        "the dashboard's default (dashboard_feed_seconds)")
    p.add_argument("--grace", type=float, default=10.0,
                   help="seconds the feeds stay open after the window, for the last events to arrive")
    p.add_argument("--demo-days", type=int, default=365,
                   help="`gridops demo --days N`: days of synthetic history (fewer: faster set-up, lighter reads)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="client time-out per request, seconds (what a proxy in front would answer with 504)")
    p.add_argument("--pg-url", default=os.environ.get("GRIDOPS_LOAD_POSTGRES_URL", DEFAULT_PG_URL),
                   help="PostgreSQL database for the PostGIS run: DROPPED and created again through the server's "
                        "`postgres` database with the same credentials (a superuser or CREATEDB role); "
                        "$GRIDOPS_LOAD_POSTGRES_URL, if set, is the default")
    p.add_argument("--keep-db", action="store_true", help="keep the PostGIS database afterwards")
    p.add_argument("--server-logs", metavar="DIR", help="copy each server's log into DIR")
    p.add_argument("--timeline", type=float, default=0.0, metavar="SECONDS",
                   help="also print the window's requests per slice of this many seconds (count, p50, p95, max, "
                        "feed (re)connections): when the tail happens, not only how long it is")
    p.add_argument("--seed", type=int, default=2026, help="random seed for think times, filters and points")
    args = p.parse_args(argv)
    if (args.users < 3 or (args.seconds is not None and args.seconds <= 0) or args.ramp < 0 or args.timeout <= 0
            or args.workers < 1 or (args.servers is not None and args.servers < 1) or args.demo_days < 0
            or (args.client_procs is not None and args.client_procs < 1) or min(
                args.sync_seconds, args.report_minutes, args.staff_think, args.board_seconds, args.feed_seconds) <= 0
            or not (0 <= args.visit_share <= 1 and 0 <= args.photo_share <= 1) or args.grace < 0):
        p.error("--users must be >= 3; --seconds, --timeout, the intervals > 0; --workers, --servers, --client-procs "
                ">= 1; --ramp, --grace, --demo-days >= 0; the shares within 0..1")
    from sqlalchemy.engine import make_url

    name = make_url(args.pg_url).database or ""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name in {"postgres", "template0", "template1"}:
        p.error("--pg-url must name a plain lower-case database of its own (it is dropped and created again)")
    return args


def personas(users: int) -> tuple[int, int, int]:
    """(grid workers, street staff, command pages) in the issue's 1,800 : 150 : 50, each at least 1."""
    staff, pages = max(1, round(users * 0.075)), max(1, round(users * 0.025))
    return users - staff - pages, staff, pages


@dataclass(frozen=True)
class Plan:
    """What every client process needs to know: the servers, the timeline (wall clock) and the knobs."""

    bases: list[str]
    t0: float  # wall clock: the pages open from here, the ramp starts here
    window: tuple[float, float]  # the measurement window
    close_at: float  # feeds closed
    ramp: float
    timeout: float
    sync_seconds: float
    act_mean: float  # seconds between a worker's reports or visits
    visit_share: float
    photo_share: float
    staff_think: float
    board_seconds: float
    feed_seconds: float
    seed: int


@dataclass
class Sim:
    """One simulated user: its persona, server, account (token) and what the persona needs."""

    role: str  # "worker" | "staff" | "page"
    index: int
    server: int
    token: str
    worker: Worker | None = None  # grid workers: the account, its grid and points inside it
    street_code: str = ""  # street staff
    scope: str = ""  # command pages: district:…
    month: bool = True  # command pages: the period is this month (else this year)


@dataclass
class FeedLog:
    """One page's feed, over its reconnects."""

    page: int
    server: int
    name: str  # "events" | "devices"
    since: float = 0.0  # wall clock: events posted after this must arrive
    first: dict[str, float] = field(default_factory=dict)  # event uuid -> first arrival (wall clock)
    messages: int = 0
    connects: int = 0
    drops: int = 0


@dataclass
class Post:
    uuid: str
    server: int
    sent: float  # wall clock
    answered: float
    grid_code: str
    reported_at: str  # as sent (ISO 8601, UTC)


@dataclass
class ClientResult:
    samples: list[tuple[str, str, float, float]] = field(default_factory=list)  # kind, label, seconds, start
    posts: list[Post] = field(default_factory=list)
    feeds: list[FeedLog] = field(default_factory=list)
    cpu_s: float = 0.0  # this process's CPU in the measurement window
    rss_mib: float = 0.0
    photo_bytes: list[int] = field(default_factory=list)
    cancelled: int = 0  # users still waiting for an answer a time-out after the end, cancelled
    lag: list[float] = field(default_factory=list)  # event-loop lag in the window: a 0.5 s sleep's oversleep


# ------------------------------------------------------------------ one client process


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


async def _sleep_until(t: float) -> None:
    d = t - time.time()
    if d > 0:
        await asyncio.sleep(d)


Params = dict[str, object]


def _query(params: Params | None) -> list[tuple[str, str]]:
    """httpx's query encoding: a list value is the key repeated (state=a&state=b), numbers as text."""
    out: list[tuple[str, str]] = []
    for k, v in (params or {}).items():
        out += [(k, str(x)) for x in (v if isinstance(v, list) else [v])]
    return out


@dataclass(frozen=True)
class Answer:
    """A response read to its end (what the users look at: status and JSON body)."""

    status_code: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:  # bench_events._error_code on a non-JSON body
        return self.body.decode("utf-8", "replace")


class Api:
    """One server's API for one client process: an aiohttp session whose calls return read Answers."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base, self.session = base + API, session

    async def _send(self, method: str, path: str, params: Params | None, headers: dict[str, str] | None,
                    **kw: Any) -> Answer:
        async with self.session.request(method, self.base + path, params=_query(params), headers=headers,
                                        **kw) as r:
            return Answer(r.status, await r.read())

    async def get(self, path: str, *, params: Params | None = None, headers: dict[str, str] | None = None) -> Answer:
        return await self._send("GET", path, params, headers)

    async def post(self, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> Answer:
        """kw: aiohttp's json= or data= (bytes or a FormData)."""
        return await self._send("POST", path, None, headers, **kw)


class Client:
    """One process's users: an aiohttp session per server, timed requests, the results."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.res = ClientResult()
        self.http: list[Api] = []

    async def __aenter__(self) -> Self:
        # idle connections dropped by the client after 4 s, before uvicorn's keep-alive time-out (5 s)
        # closes them under a request: a phone reconnects after its minute of think time too
        for b in self.plan.bases:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=4.0),
                                            timeout=aiohttp.ClientTimeout(total=self.plan.timeout + 5))
            self.http.append(Api(b, session))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for api in self.http:
            await api.session.close()

    async def call(self, kind: str, send: Callable[[], Awaitable[Answer]]) -> Answer | None:
        """Send, time and label one request; the response (any status) or None without an answer."""
        start, t = time.time(), time.perf_counter()
        r = None
        try:
            async with asyncio.timeout(self.plan.timeout):
                r = await send()
            label = str(r.status_code) if r.status_code < 400 else _error_code(r)
        except TimeoutError:  # aiohttp's ServerTimeoutError and asyncio's time-out are both TimeoutErrors
            label = "time-out"
        except aiohttp.ClientError as exc:
            label = type(exc).__name__  # the connection failed or closed under the request
        self.res.samples.append((kind, label, time.perf_counter() - t, start))
        return r


# --- grid workers (mobile/sync.py, mobile/service.py)


async def sync(cl: Client, s: Sim, c: Api, cursor: int) -> int:
    """One sync pass as the app makes it: app session, the change feed from the cursor, the changed events."""
    h = _auth(s.token)
    await cl.call("sync: app session", lambda: c.post("/app/sessions", json={"app_version": APP_VERSION}, headers=h))
    first = cursor == 0
    if first:
        await cl.call("sync: events page", lambda: c.get(
            "/events", params={"page": 1, "page_size": 100, "sort": "-updated_at"}, headers=h))
    changed: list[str] = []
    while True:
        r = await cl.call("sync: changes", lambda cursor=cursor: c.get(
            "/events/changes", params={"cursor": cursor, "limit": 500}, headers=h))
        if r is None or r.status_code != 200:
            return cursor
        page = r.json()
        changed += [ch["event_uuid"] for ch in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    if not first:
        fresh = list(dict.fromkeys(changed))
        if len(fresh) > 50:
            await cl.call("sync: events page", lambda: c.get(
                "/events", params={"page": 1, "page_size": 100, "sort": "-updated_at"}, headers=h))
        else:
            for u in fresh:
                await cl.call("sync: event detail", lambda u=u: c.get(f"/events/{u}", headers=h))
    return cursor


def jpeg(rnd: random.Random) -> bytes:
    """A fresh small photo (640x480, noise over a colour): every upload is new bytes, as a camera's."""
    from PIL import Image

    img = Image.merge("RGB", [Image.effect_noise((640, 480), rnd.uniform(20, 60)).point(lambda v, k=k: (v + k) % 256)
                              for k in (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))])
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


async def report(cl: Client, s: Sim, c: Api, rnd: random.Random, k: int) -> None:
    w, h = s.worker, _auth(s.token)
    assert w is not None
    body = event_body(w, rnd, rnd.randrange(1 << 30))  # fresh uuid, a point inside the grid, wgs84 or gcj02
    sent_body = json.loads(body)
    uuid = sent_body["uuid"]
    sent = time.time()
    r = await cl.call("report: POST /events", lambda: c.post(
        "/events", data=body, headers={**h, "Content-Type": "application/json"}))
    if r is None or r.status_code != 201:
        return
    cl.res.posts.append(Post(uuid, s.server, sent, time.time(), w.grid_code, sent_body["reported_at"]))
    if rnd.random() < cl.plan.photo_share:
        data = jpeg(rnd)
        cl.res.photo_bytes.append(len(data))
        def upload() -> Awaitable[Answer]:
            form = aiohttp.FormData()
            form.add_field("file", data, filename=f"IMG_{k:04d}.jpg", content_type="image/jpeg")
            return c.post("/photos", data=form, headers=h)

        r = await cl.call("report: POST /photos", upload)
        if r is not None and r.status_code in (200, 201):
            key = r.json()["sha256"]
            await cl.call("report: attach photo", lambda: c.post(f"/events/{uuid}/photos", json={"photos": [key]},
                                                                 headers=h))


async def visit(cl: Client, s: Sim, c: Api, rnd: random.Random) -> None:
    w = s.worker
    assert w is not None
    end = datetime.now(timezone.utc)
    start = end - timedelta(minutes=rnd.uniform(10, 40))
    idx = [rnd.randrange(len(w.lons)) for _ in range(rnd.randint(2, 6))]
    points = [{"lon": float(w.lons[i]), "lat": float(w.lats[i]),
               "at": _iso(start + (end - start) * n / len(idx))} for n, i in enumerate(idx)]
    body = {"uuid": str(uuidlib.uuid4()), "started_at": _iso(start), "ended_at": _iso(end), "datum": "wgs84",
            "points": points, "households": [f"{rnd.randint(1, 30)}栋{rnd.randint(1, 6)}0{rnd.randint(1, 4)}"],
            "notes": "bench 走访"}
    await cl.call("visit: POST /visits", lambda: c.post("/visits", json=body, headers=_auth(s.token)))


async def grid_worker(cl: Client, s: Sim, rnd: random.Random) -> None:
    p, c = cl.plan, cl.http[s.server]
    await _sleep_until(p.t0 + PAGES_OPEN_S + rnd.uniform(0, p.ramp))
    cursor, k = 0, 0
    next_sync, next_act = time.time(), time.time() + rnd.expovariate(1 / p.act_mean)
    while min(next_sync, next_act) < p.window[1]:
        await _sleep_until(min(next_sync, next_act))
        if time.time() >= p.window[1]:
            return
        if next_act <= next_sync:
            if rnd.random() < p.visit_share:
                await visit(cl, s, c, rnd)
            else:
                await report(cl, s, c, rnd, k)
                k += 1
            next_act = time.time() + rnd.expovariate(1 / p.act_mean)
        else:
            cursor = await sync(cl, s, c, cursor)
            next_sync = max(next_sync + p.sync_seconds, time.time())  # a late sync is not caught up in a burst


# --- street staff (the dashboard's queue)

STEPS = {"reported": "accepted", "accepted": "dispatched", "dispatched": "handled", "handled": "closed"}


async def staff_list(cl: Client, s: Sim, c: Api, rnd: random.Random, seen: list[str]) -> None:
    params: dict[str, object] = {}
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
                  sort=rnd.choice(["-reported_at", "-reported_at", "due_at", "-updated_at"]))
    r = await cl.call("staff: events list", lambda: c.get("/events", params=params, headers=_auth(s.token)))
    if r is not None and r.status_code == 200:
        for e in r.json()["items"][:5]:
            seen.append(e["uuid"])
        del seen[:-SEEN_UUIDS]


async def staff_action(cl: Client, s: Sim, c: Api, rnd: random.Random) -> None:
    """Open an event of one state and move it one step, as the dashboard's action buttons do."""
    h = _auth(s.token)
    state = rnd.choice(list(STEPS))
    r = await cl.call("staff: events list", lambda: c.get("/events", params={"state": state, "page_size": 20},
                                                          headers=h))
    if r is None or r.status_code != 200 or not r.json()["items"]:
        return
    uuid = rnd.choice(r.json()["items"])["uuid"]
    r = await cl.call("staff: event detail", lambda: c.get(f"/events/{uuid}", headers=h))
    if r is None or r.status_code != 200:
        return
    e = r.json()
    to = STEPS.get(e["state"])
    if to is None or to not in e["allowed_next"]:
        return
    body: dict[str, object] = {"to_state": to, "note": "bench"}
    if to == "dispatched":
        body["dispatched_to"] = "街道综合执法队"
    r = await cl.call("staff: transition", lambda: c.post(f"/events/{uuid}/transitions", json=body,
                                                          headers={**h, "Idempotency-Key": str(uuidlib.uuid4())}))
    if r is not None and r.status_code == 409 and _error_code(r) == "409 illegal_transition":
        await check_conflict(cl, c, h, uuid, seen_state=e["state"])


async def check_conflict(cl: Client, c: Api, h: dict[str, str], uuid: str, seen_state: str) -> None:
    """A 409 to a step the detail allowed is right if a colleague moved the event in between (the
    dashboard then shows their step): read it again, and if its state moved on, relabel the 409 as
    that conflict. Else it stays an unexplained 409, an error."""
    i = len(cl.res.samples) - 1
    r = await cl.call("staff: event detail", lambda: c.get(f"/events/{uuid}", headers=h))
    if r is not None and r.status_code == 200 and r.json()["state"] != seen_state:
        kind, _label, took, start = cl.res.samples[i]
        cl.res.samples[i] = (kind, CONFLICT, took, start)


async def street_staff(cl: Client, s: Sim, rnd: random.Random) -> None:
    p, c, h = cl.plan, cl.http[s.server], _auth(s.token)
    await _sleep_until(p.t0 + PAGES_OPEN_S + rnd.uniform(0, p.ramp))
    seen: list[str] = []
    await staff_list(cl, s, c, rnd, seen)
    while True:
        await asyncio.sleep(rnd.expovariate(1 / p.staff_think))
        if time.time() >= p.window[1]:
            return
        what = rnd.choices(["list", "detail", "action", "csv", "xlsx"], [45, 25, 22, 4, 4])[0]
        if what == "list" or (what == "detail" and not seen):
            await staff_list(cl, s, c, rnd, seen)
        elif what == "detail":
            u = rnd.choice(seen)
            await cl.call("staff: event detail", lambda u=u: c.get(f"/events/{u}", headers=h))
        elif what == "action":
            await staff_action(cl, s, c, rnd)
        else:
            params = {"format": what, "reported_from": _iso(datetime.now(timezone.utc) - timedelta(days=30))}
            await cl.call(f"staff: export {what}", lambda params=params: c.get("/events/export", params=params,
                                                                               headers=h))


# --- command-centre pages (server/dashboard/static/js: app.js, queue.js, devices.js, board.js, map.js)


async def latest_cursor(cl: Client, s: Sim, c: Api) -> int:
    """queue.js latestEventCursor: exponential then binary search with /events/changes?limit=1."""
    async def after(n: int) -> bool:
        r = await cl.call("page: changes (cursor search)", lambda: c.get(
            "/events/changes", params={"cursor": n, "limit": 1}, headers=_auth(s.token)))
        return r is not None and r.status_code == 200 and bool(r.json()["changes"])

    lo, hi = 0, 1024
    while await after(hi):
        lo, hi = hi, hi * 4
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if await after(mid):
            lo = mid
        else:
            hi = mid
    return hi if await after(lo) else lo


async def hold_feed(cl: Client, s: Sim, c: Api, log: FeedLog, path: str, cursor: int,
                    poll: float) -> None:
    """An SSE feed held open until close_at, reconnecting with Last-Event-ID when the server ends it."""
    p, last = cl.plan, cursor
    kind = f"page: {log.name} feed open"
    while time.time() < p.close_at:
        start, t = time.time(), time.perf_counter()
        try:
            async with asyncio.timeout(p.close_at - time.time()):
                async with c.session.get(c.base + path, params=_query(
                        {"cursor": last, "seconds": p.feed_seconds, "poll": poll}),
                        headers={**_auth(s.token), "Last-Event-ID": str(last)},
                        timeout=aiohttp.ClientTimeout(total=None, connect=p.timeout, sock_read=None)) as r:
                    if r.status != 200:
                        answer = Answer(r.status, await r.read())
                        cl.res.samples.append((kind, _error_code(answer), time.perf_counter() - t, start))
                        await asyncio.sleep(1)
                        continue
                    cl.res.samples.append((kind, "200", time.perf_counter() - t, start))
                    log.connects += 1
                    msg_id, data = None, ""
                    async for raw in r.content:  # line by line, as the browser's EventSource parses
                        line = raw.decode().rstrip("\r\n")
                        if line.startswith("id: "):
                            msg_id = int(line[4:])
                        elif line.startswith("data: "):
                            data = line[6:]
                        elif not line and msg_id is not None:
                            at, last = time.time(), msg_id
                            log.messages += 1
                            if log.name == "events":
                                log.first.setdefault(json.loads(data)["event_uuid"], at)
                            msg_id = None
        except TimeoutError:
            return  # close_at: the page is closed
        except aiohttp.ClientError as exc:
            log.drops += 1
            cl.res.samples.append((f"page: {log.name} feed dropped", type(exc).__name__, time.perf_counter() - t,
                                   start))
            await asyncio.sleep(1)


async def board(cl: Client, s: Sim, c: Api) -> None:
    """The board and the map: the indicators, the first one's series, the map's colours at grid and street level."""
    h = _auth(s.token)
    now = datetime.now(SHANGHAI)
    period = now.strftime("%Y-%m") if s.month else str(now.year)
    q = {"scope": s.scope, "period": period}
    await cl.call("board: indicators", lambda: c.get("/indicators", params=q, headers=h))
    await cl.call("board: series", lambda: c.get("/indicators/closure_rate/series",
                                                 params={**q, "period": str(now.year)}, headers=h))
    for level in ("grid", "street"):
        await cl.call(f"board: areas {level}", lambda level=level: c.get(
            "/indicators/areas", params={**q, "level": level, "indicator": "closure_rate"}, headers=h))


async def command_page(cl: Client, s: Sim, rnd: random.Random) -> None:
    p, c = cl.plan, cl.http[s.server]
    await _sleep_until(p.t0 + rnd.uniform(0, PAGES_OPEN_S * 0.6))
    events, devices = FeedLog(s.index, s.server, "events"), FeedLog(s.index, s.server, "devices")
    cl.res.feeds += [events, devices]
    r = await cl.call("page: devices geojson", lambda: c.get("/devices/geojson", headers=_auth(s.token)))
    dev_cursor = int(r.json().get("cursor") or 0) if r is not None and r.status_code == 200 else 0
    devices.since = time.time()
    cursor = await latest_cursor(cl, s, c)
    # events must arrive from here: one posted during the search may hold a cursor the search already passed
    # (the page starts after it, as the dashboard does), so it is not counted as lost
    events.since = time.time()

    async def boards() -> None:
        due = time.time()
        while due < p.window[1]:
            await _sleep_until(due)
            await board(cl, s, c)
            due = max(due + p.board_seconds, time.time())

    await asyncio.gather(hold_feed(cl, s, c, events, "/events/feed", cursor, 1.0),
                         hold_feed(cl, s, c, devices, "/devices/feed", dev_cursor, 0.5), boards())


async def client_main(plan: Plan, sims: list[Sim]) -> ClientResult:
    async with Client(plan) as cl:
        return await run_users(cl, sims)


async def run_users(cl: Client, sims: list[Sim]) -> ClientResult:
    plan = cl.plan
    run = {"worker": grid_worker, "staff": street_staff, "page": command_page}

    async def cpu_window() -> None:
        await _sleep_until(plan.window[0])
        c0 = time.process_time()
        while time.time() < plan.window[1]:  # a starved or busy client answers late: its latencies then lie
            t = time.perf_counter()
            await asyncio.sleep(0.5)
            cl.res.lag.append(time.perf_counter() - t - 0.5)
        cl.res.cpu_s = time.process_time() - c0
        with open("/proc/self/status") as f:
            cl.res.rss_mib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    tasks = [asyncio.create_task(cpu_window())] + [
        asyncio.create_task(run[s.role](cl, s, random.Random(plan.seed * 100_000 + s.index))) for s in sims]
    # an overloaded server may still owe answers at the end: what is in flight a time-out after the
    # feeds closed is cancelled (counted), so the run always ends
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, plan.close_at + plan.timeout + 5 - time.time()))
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    cl.res.cancelled = len(pending)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc] - a bug in the bench: shown, not hidden
    return cl.res


def client_process(plan: Plan, sims: list[Sim]) -> ClientResult:
    return asyncio.run(client_main(plan, sims))


# ------------------------------------------------------------------ set-up: accounts and simulated users


def login(base: str, username: str) -> tuple[str, dict[str, object]]:
    with httpx.Client(base_url=base + API, timeout=30) as c:
        r = c.post("/auth/token", data={"username": username, "password": PASSWORD})
        r.raise_for_status()
        token = r.json()["access_token"]
        me = c.get("/auth/me", headers=_auth(token))
        me.raise_for_status()
        return token, me.json()


def make_sims(base: str, users: int, servers: int, seed: int) -> list[Sim]:
    n_workers, n_staff, n_pages = personas(users)
    accounts = login_workers(base, min(DEMO_WORKERS, n_workers), np.random.default_rng(seed))
    streets = [login(base, f"street{i:02d}") for i in range(1, min(STREETS, n_staff) + 1)]
    desks = [login(base, name) for name in ("command", "admin")[:n_pages]]
    sims: list[Sim] = []
    for i in range(n_workers):
        w = accounts[i % len(accounts)]
        sims.append(Sim("worker", len(sims), len(sims) % servers, w.token, worker=w))
    for j in range(n_staff):
        token, me = streets[j % len(streets)]
        sims.append(Sim("staff", len(sims), len(sims) % servers, token, street_code=str(me["street_code"])))
    for k in range(n_pages):
        token, me = desks[k % len(desks)]
        sims.append(Sim("page", len(sims), k % servers, token, scope=f"district:{me['district_code']}",
                        month=k % 2 == 0))
    return sims


# ------------------------------------------------------------------ resources (server side)


def _rss_mib(pids: list[int]) -> float:
    return sum(tree_memory_mb(pid) for pid in pids)


@dataclass
class ConnFigures:
    """pg_stat_activity's counts over the samples: (all, active, idle in transaction, waiting on the
    feed's advisory lock, waiting on a row lock), mean and max of each."""

    mean: np.ndarray
    max: np.ndarray


class Sampler(threading.Thread):
    """Memory of all server processes and the database's connections every SAMPLE_S seconds."""

    def __init__(self, server_pids: list[int], pg_url: str | None) -> None:
        super().__init__(daemon=True)
        self.server_pids, self.pg_url = server_pids, pg_url
        self.rss: list[float] = []
        self.cpu: list[tuple[float, float]] = []  # (wall clock, CPU seconds of every server process so far)
        # (all, active, idle in transaction, waiting on an advisory lock, waiting on a row lock)
        self.conns: list[tuple[int, ...]] = []
        self.stopping = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        conn = engine = None
        try:
            if self.pg_url:
                from sqlalchemy import create_engine, text
                from sqlalchemy.pool import NullPool

                engine = create_engine(self.pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
                conn = engine.connect()
                count = text("SELECT count(*), count(*) FILTER (WHERE state = 'active'), "
                             "count(*) FILTER (WHERE state = 'idle in transaction'), "
                             "count(*) FILTER (WHERE wait_event = 'advisory'), "
                             "count(*) FILTER (WHERE wait_event IN ('transactionid', 'tuple')) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            while True:
                self.rss.append(_rss_mib(self.server_pids))
                self.cpu.append((time.time(), sum(_proc_cpu_s(p) for pid in self.server_pids for p in _tree(pid))))
                if conn is not None:
                    self.conns.append(tuple(int(v) for v in conn.execute(count).one()))
                if self.stopping.wait(SAMPLE_S):
                    return
        except Exception as exc:  # noqa: BLE001 - a sampler failure ends the sampling, not the run
            self.error = f"{type(exc).__name__}: {exc!s:.200}"
        finally:
            if conn is not None:
                conn.close()
            if engine is not None:
                engine.dispose()

    def finish(self) -> tuple[tuple[float, float, float], ConnFigures | None]:
        self.stopping.set()
        self.join(timeout=10)
        rss = (self.rss[0], max(self.rss), self.rss[-1]) if self.rss else (0.0, 0.0, 0.0)
        if not self.conns:
            return rss, None
        c = np.array(self.conns, dtype=float)
        return rss, ConnFigures(c.mean(axis=0), c.max(axis=0))


def servers_snapshot(servers: list[Server], pg_database: str | None) -> CpuSnapshot:
    """bench_events' snapshot over every server process (the client is measured in its own processes)."""
    snaps = [cpu_snapshot(s.proc.pid, pg_database if i == 0 else None) for i, s in enumerate(servers)]
    return replace(snaps[0], server=sum(s.server for s in snaps), client=0.0)


# ------------------------------------------------------------------ one back end


@dataclass
class CrossCheck:
    """Events posted through one server read on another: (posted on, read on, read, listed, tried)."""

    rows: list[tuple[int, int, int, int, int]]

    @property
    def ok(self) -> bool:
        return all(read == listed == tried for _, _, read, listed, tried in self.rows)


@dataclass
class BackendResult:
    backend: str
    version: str
    setup: str
    servers: int
    workers: int
    client_procs: int
    seconds: float
    plan: Plan
    results: list[ClientResult]
    cpu: CpuUse
    rss_mib: tuple[float, float, float]
    pg_connections: ConnFigures | None
    server_cpu: list[tuple[float, float]]  # Sampler.cpu: (wall clock, the servers' CPU seconds so far)
    cross: CrossCheck | None
    server_exits: list[int | None]
    server_errors: Counter[str]

    @property
    def samples(self) -> list[tuple[str, str, float, float]]:
        return [s for r in self.results for s in r.samples]

    @property
    def posts(self) -> list[Post]:
        return [p for r in self.results for p in r.posts]

    @property
    def feeds(self) -> list[FeedLog]:
        return [f for r in self.results for f in r.feeds]


def listed_on(c: httpx.Client, p: Post) -> set[str]:
    """The uuids a list filtered to the post's grid and reported time (± 1 s) shows."""
    at = datetime.fromisoformat(p.reported_at)
    r = c.get("/events", params={"grid_code": p.grid_code, "reported_from": (at - timedelta(seconds=1)).isoformat(),
                                 "reported_to": (at + timedelta(seconds=1)).isoformat(), "page_size": 500})
    return {e["uuid"] for e in r.json()["items"]} if r.status_code == 200 else set()


def cross_check(servers: list[Server], posts: list[Post], token: str, n: int = 20) -> CrossCheck:
    """The last n events posted through each server, read on each other server: the detail and the list."""
    rows = []
    h = _auth(token)
    for a in range(len(servers)):
        mine = sorted((p for p in posts if p.server == a), key=lambda p: p.answered)[-n:]
        for b in range(len(servers)):
            if a == b or not mine:
                continue
            with httpx.Client(base_url=servers[b].base + API, timeout=60, headers=h) as c:
                read = sum(c.get(f"/events/{p.uuid}").status_code == 200 for p in mine)
                listed = sum(p.uuid in listed_on(c, p) for p in mine)
                rows.append((a, b, read, listed, len(mine)))
    return CrossCheck(rows)


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> BackendResult:
    from sqlalchemy.engine import make_url

    pg = make_url(args.pg_url)  # created through the `postgres` database of the same server
    admin_url = pg.set(database="postgres").render_as_string(hide_password=False)
    n_servers = args.servers or (2 if backend == "postgis" else 1)
    seconds = args.seconds or (600.0 if backend == "postgis" else 120.0)
    procs = args.client_procs or (1 if args.users <= 500 else 2)
    with bench_database(backend, tmp, admin_url, pg.database, keep=args.keep_db) as url:
        pg_url, pg_database = (url, pg.database) if backend == "postgis" else (None, None)
        env = bench_env(url, tmp, embedded_mqtt=False)
        setup = setup_demo(env, tmp, args.demo_days)
        version, _ = db_facts(url)
        with ExitStack() as stack:
            servers = [stack.enter_context(served(backend, env, tmp, args.workers, args.server_logs, f"-{chr(65 + i)}"))
                       for i in range(n_servers)]
            t = time.perf_counter()
            sims = make_sims(servers[0].base, args.users, n_servers, args.seed)
            setup += f", {min(DEMO_WORKERS, personas(args.users)[0])} worker + desk accounts logged in " \
                     f"{time.perf_counter() - t:.1f} s"
            t0 = time.time() + 3.0  # the client processes start meanwhile
            window = (t0 + PAGES_OPEN_S + args.ramp, t0 + PAGES_OPEN_S + args.ramp + seconds)
            plan = Plan([s.base for s in servers], t0, window, window[1] + args.grace, args.ramp, args.timeout,
                        args.sync_seconds, args.report_minutes * 60, args.visit_share, args.photo_share,
                        args.staff_think, args.board_seconds, args.feed_seconds, args.seed)
            shares = [[s for s in sims if s.index % procs == i] for i in range(procs)]
            with multiprocessing.get_context("fork").Pool(procs) as pool:  # forked before the sampler's thread
                pending = pool.starmap_async(client_process, [(plan, share) for share in shares])
                sampler = Sampler([s.proc.pid for s in servers], pg_url)
                sampler.start()
                try:
                    print(f"[{backend}] {args.users} users on {n_servers} server(s): window "
                          f"{datetime.fromtimestamp(window[0], timezone.utc):%H:%M:%S} to "
                          f"{datetime.fromtimestamp(window[1], timezone.utc):%H:%M:%S} UTC", file=sys.stderr, flush=True)
                    time.sleep(max(0.0, window[0] - time.time()))
                    snap0 = servers_snapshot(servers, pg_database)
                    time.sleep(max(0.0, window[1] - time.time()))
                    snap1 = servers_snapshot(servers, pg_database)
                    results = pending.get(timeout=max(0.0, plan.close_at - time.time()) + args.timeout + 60)
                finally:
                    rss, conns = sampler.finish()
            if sampler.error:
                print(f"warning: sampling stopped: {sampler.error}", file=sys.stderr)
            cpu = CpuUse.between(snap0, snap1)
            cpu = replace(cpu, client_pct=100 * sum(r.cpu_s for r in results) / seconds)
            posts = [p for r in results for p in r.posts]
            desk = next(s.token for s in sims if s.role == "page")
            exits = [s.proc.poll() for s in servers]
            cross = cross_check(servers, posts, desk) if n_servers > 1 and all(e is None for e in exits) else None
            for s in servers:
                s.stop()  # its log is complete
            errs: Counter[str] = sum((server_exceptions(s.log_path) for s in servers), Counter())
    return BackendResult(backend, version, setup, n_servers, args.workers, procs, seconds, plan, results, cpu, rss,
                         conns, sampler.cpu, cross, exits, errs)


# ------------------------------------------------------------------ report


@dataclass
class Row:
    name: str
    count: int
    ok: int
    c4xx: Counter[str]
    c5xx: int
    timeouts: int
    other: int  # no HTTP answer but no time-out either: the connection failed
    rate: float  # answers (2xx/3xx) per second of the window
    p50: float
    p95: float
    p99: float
    top: float

    @property
    def failed(self) -> int:
        return self.c5xx + self.timeouts + self.other


def row(name: str, samples: list[tuple[str, str, float, float]], seconds: float) -> Row:
    labels = Counter(s[1] for s in samples)
    ok = sum(v for k, v in labels.items() if k[:1] in "23")
    c4 = Counter({k: v for k, v in labels.items() if k[:1] == "4"})
    c5 = sum(v for k, v in labels.items() if k[:1] == "5")
    lat = np.array([s[2] for s in samples]) if samples else np.array([np.nan])
    p50, p95, p99, top = (float(x) for x in np.percentile(lat, [50, 95, 99, 100]))
    return Row(name, len(samples), ok, c4, c5, labels["time-out"],
               len(samples) - ok - sum(c4.values()) - c5 - labels["time-out"], ok / seconds, p50, p95, p99, top)


def _ms(x: float) -> str:
    x *= 1000
    return "—" if np.isnan(x) else f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def is_statistic(kind: str) -> bool:
    return kind.startswith(STATISTICS)


def in_window(r: BackendResult) -> list[tuple[str, str, float, float]]:
    lo, hi = r.plan.window
    return [s for s in r.samples if lo <= s[3] < hi]


def print_timeline(r: BackendResult, window: list[tuple[str, str, float, float]], step: float) -> None:
    """Latency by when the request started, so a burst (feeds reconnecting, caches expiring) shows."""
    lo = r.plan.window[0]
    opens = np.array([s[3] for s in r.samples if s[0].endswith("feed open")])
    cpu_t, cpu_s = (np.array(x) for x in zip(*r.server_cpu)) if r.server_cpu else (np.zeros(1), np.zeros(1))
    print("  timeline (s after the window's start: requests, p50 / p95 / max ms, feed (re)connections, "
          "servers' CPU in % of one core):")
    for k in range(int(np.ceil(r.seconds / step))):
        a, b = lo + k * step, lo + (k + 1) * step
        lat = np.array([s[2] for s in window if a <= s[3] < b])
        if not lat.size:
            continue
        p50, p95, top = (float(x) * 1000 for x in np.percentile(lat, [50, 95, 100]))
        n_open = int(((opens >= a) & (opens < b)).sum()) if opens.size else 0
        ta, tb = np.interp([a, b], cpu_t, cpu_t), np.interp([a, b], cpu_t, cpu_s)
        cpu = 100 * (tb[1] - tb[0]) / (ta[1] - ta[0]) if ta[1] > ta[0] else float("nan")
        print(f"    {k * step:5.0f}–{(k + 1) * step:<5.0f} {lat.size:6,} {p50:8,.0f} {p95:8,.0f} {top:8,.0f} {n_open:5} "
              f"{cpu:6.0f}")


def print_table(samples: list[tuple[str, str, float, float]], seconds: float) -> list[Row]:
    print(f"  {'request type':30} {'count':>7} {'answers/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'4xx':>5} {'5xx':>5} {'time-outs':>9} {'closed':>6}")
    by_kind: dict[str, list[tuple[str, str, float, float]]] = defaultdict(list)
    for s in samples:
        by_kind[s[0]].append(s)
    out = [row(k, by_kind[k], seconds) for k in sorted(by_kind)] + [row("total", samples, seconds)]
    for r in out:
        print(f"  {r.name:30} {r.count:7d} {r.rate:9.1f} {_ms(r.p50):>8} {_ms(r.p95):>8} {_ms(r.p99):>8} "
              f"{_ms(r.top):>8} {sum(r.c4xx.values()):5d} {r.c5xx:5d} {r.timeouts:9d} {r.other:6d}")
    bad = Counter(f"{s[0]}: {s[1]}" for s in samples if s[1][:1] not in "23")
    for k, v in sorted(bad.items()):
        print(f"    {v:6d} × {k}")
    return out


@dataclass
class FeedFigures:
    delays: np.ndarray  # seconds, every (feed, event) arrival
    expected: int
    lost: int
    by_pair: dict[tuple[int, int], tuple[np.ndarray, int, int]]  # (posted on, feed on) -> (delays, expected, lost)
    missing: list[tuple[float, float, float]]  # each not arrived: (POST sent, answered, the feed's since), run clock


def feed_figures(r: BackendResult) -> FeedFigures:
    """Each event answered 201 after a page's feed started (and before the window's end) on that feed:
    delay from the POST's start to its arrival, or lost."""
    posts = [p for p in r.posts if p.answered <= r.plan.window[1]]
    pair: dict[tuple[int, int], tuple[list[float], list[int]]] = defaultdict(lambda: ([], [0, 0]))
    missing: list[tuple[float, float, float]] = []
    for f in (f for f in r.feeds if f.name == "events" and f.since and f.connects):
        for p in posts:
            if p.sent < f.since:
                continue
            delays, counts = pair[(p.server, f.server)]
            counts[0] += 1
            if p.uuid in f.first:
                delays.append(max(0.0, f.first[p.uuid] - p.sent))
            else:
                counts[1] += 1
                t0 = r.plan.t0
                missing.append((p.sent - t0, p.answered - t0, f.since - t0))
    by_pair = {k: (np.array(d), c[0], c[1]) for k, (d, c) in pair.items()}
    every = np.concatenate([v[0] for v in by_pair.values()]) if by_pair else np.array([])
    return FeedFigures(every, sum(v[1] for v in by_pair.values()), sum(v[2] for v in by_pair.values()), by_pair,
                       missing)


def _delay(d: np.ndarray) -> str:
    if not d.size:
        return "no arrivals"
    p50, p95 = np.percentile(d, [50, 95])
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {d.max():.2f} s over {d.size:,} arrivals"


def limit(r: BackendResult) -> str:
    """What limited the run: pool time-outs, the client's own CPU, else bench_events' verdict."""
    pool = sum(v for k, v in r.server_errors.items() if "QueuePool limit" in k)
    if pool:
        return (f"the SQLAlchemy connection pool: {pool} requests failed after waiting 30 s for a pooled connection, "
                f"with the servers at {r.cpu.server_pct:.0f} % CPU")
    lag = np.array([x for c in r.results for x in c.lag] or [0.0])
    if np.percentile(lag, 95) >= 0.5 and r.cpu.client_pct / r.client_procs < 85:
        return (f"the machine's CPU: every process waits for a core (load generator event-loop lag p95 "
                f"{np.percentile(lag, 95):.1f} s although it used only {r.cpu.client_pct:.0f} % of a core; "
                f"other processes used {other_load_pct(r.cpu):.0f} %): latencies include the client's own wait")
    if r.cpu.client_pct / r.client_procs >= 85:
        return (f"the load generator: its {r.client_procs} process(es) used {r.cpu.client_pct:.0f} % of a core "
                f"(use more --client-procs, or another machine)")
    return limiting_factor(r.backend, r.cpu, r.servers * r.workers, r.server_errors)


def goals(r: BackendResult, rows: list[Row], feeds: FeedFigures, ramp: Row) -> list[tuple[str, bool, str]]:
    total = rows[-1]
    kinds = rows[:-1]
    interactive = [x for x in kinds if not is_statistic(x.name) and "feed dropped" not in x.name]
    slow = [f"{x.name} {_ms(x.p95)} ms" for x in interactive if x.p95 > INTERACTIVE_P95_S]
    stats = [x for x in kinds if is_statistic(x.name)]
    slow_stats = [f"{x.name} {x.top:.1f} s" for x in stats if x.top > STATISTIC_MAX_S]
    c4 = sum(v for k, v in (total.c4xx + ramp.c4xx).items() if k != CONFLICT)
    p95 = float(np.percentile(feeds.delays, 95)) if feeds.delays.size else float("nan")
    out = [
        ("no errors", total.failed + ramp.failed == 0 and c4 == 0,
         f"5xx {total.c5xx + ramp.c5xx}, time-outs {total.timeouts + ramp.timeouts}, closed connections "
         f"{total.other + ramp.other}, 4xx {c4} (window and ramp); {total.c4xx[CONFLICT] + ramp.c4xx[CONFLICT]} "
         f"transitions refused because a colleague had moved the event first (checked by reading it again: "
         f"the right answer, not an error)"),
        ("interactive p95 < 1 s", not slow, "every type" if not slow else "over: " + ", ".join(slow)),
        ("every statistic < 10 s", bool(stats) and not slow_stats,
         (f"slowest {max(x.top for x in stats):.1f} s" if stats else "none measured")
         + ("" if not slow_stats else "; over: " + ", ".join(slow_stats))),
        ("feed delay p95 < 2 s", p95 < FEED_P95_S, f"p95 {p95:.2f} s"),
        ("0 events lost on feeds", feeds.lost == 0 and feeds.expected > 0 and all(f.connects for f in r.feeds),
         f"{feeds.lost} of {feeds.expected:,} (event, feed) pairs not arrived, "
         f"{sum(not f.connects for f in r.feeds)} feeds never connected"),
    ]
    if r.cross is not None:
        out.append(("cross-process visibility", r.cross.ok, ", ".join(
            f"{chr(65 + a)}→{chr(65 + b)}: {read}/{tried} read, {listed}/{tried} listed"
            for a, b, read, listed, tried in r.cross.rows)))
    died = [chr(65 + i) for i, e in enumerate(r.server_exits) if e is not None]
    if died:
        out.append(("servers alive", False, f"server(s) {', '.join(died)} exited"))
    return out


def print_result(r: BackendResult, args: argparse.Namespace) -> bool:
    n_workers, n_staff, n_pages = personas(args.users)
    print(f"\n== backend: {r.backend} ==")
    print(f"database : {r.version}")
    print(f"setup    : {r.setup}")
    print(f"servers  : {r.servers} × `gridops serve --workers {r.workers}` on the same database, embedded MQTT off "
          f"(no device changes: the device feeds are held open, they carry no messages)")
    print(f"clients  : {r.client_procs} process(es) (asyncio + aiohttp), {args.users} users = {n_workers} grid workers "
          f"+ {n_staff} street staff + {n_pages} command pages, split over the servers; time-out {args.timeout:g} s")
    print(f"timeline : pages open in {PAGES_OPEN_S:g} s, ramp {args.ramp:g} s, window {r.seconds:g} s, feeds closed "
          f"{args.grace:g} s after")
    window = in_window(r)
    lo = r.plan.window[0]
    ramp_samples = [s for s in r.samples if s[3] < lo]
    ramp = row("ramp", ramp_samples, max(lo - r.plan.t0, 1e-9))
    late = [s for s in r.samples if s[3] >= r.plan.window[1]]
    print(f"ramp-up  : {ramp.count:,} requests, 5xx {ramp.c5xx}, time-outs {ramp.timeouts}, closed {ramp.other}, "
          f"4xx {sum(ramp.c4xx.values())}" + (f" ({dict(ramp.c4xx)})" if ramp.c4xx else "")
          + (f"; {len(late)} requests started after the window (the rest of a sync or a board) not counted"
             if late else "")
          + (f"; {sum(x.cancelled for x in r.results)} users still waiting for an answer {args.timeout:g} s after "
             f"the end, cancelled" if any(x.cancelled for x in r.results) else ""))
    print(f"window   : requests started in the {r.seconds:g} s window; answers/s = 2xx per second of it")
    rows = print_table(window, r.seconds)
    if args.timeline:
        print_timeline(r, window, args.timeline)
    total = rows[-1]
    print(f"  throughput: {total.rate:,.1f} answers/s ({total.count:,} requests); events posted "
          f"{sum(1 for p in r.posts if lo <= p.sent < r.plan.window[1]):,}, photos "
          f"{sum(len(x.photo_bytes) for x in r.results):,} (mean "
          f"{np.mean([b for x in r.results for b in x.photo_bytes] or [0]) / 1024:.0f} KiB)")
    lag = np.array([x for c in r.results for x in c.lag] or [np.nan])
    print(f"  cpu      : {cpu_line(r.cpu, r.backend)} (load generator: the {r.client_procs} client process(es), "
          f"measured in themselves; their event loops' lag p50 {np.nanpercentile(lag, 50) * 1000:.0f} ms, "
          f"p95 {np.nanpercentile(lag, 95) * 1000:.0f} ms, max {np.nanmax(lag) * 1000:.0f} ms)")
    if total.ok:
        print(f"  cost     : {10 * r.cpu.server_pct * r.seconds / total.ok:.1f} ms of server CPU"
              + (f" and {10 * r.cpu.postgres_pct * r.seconds / total.ok:.1f} ms of PostgreSQL CPU"
                 if r.backend == "postgis" else "")
              + f" per answer on average, and {10 * r.cpu.client_pct * r.seconds / total.ok:.1f} ms of the load "
                f"generator's (asyncio + aiohttp {aiohttp.__version__}, photos made with Pillow included)"
              + f" (capacity of these {os.cpu_count()} cores at this mix, with nothing "
                f"else running: ~{total.ok / (r.seconds * (r.cpu.server_pct + r.cpu.postgres_pct) / 100) * os.cpu_count():,.0f} answers/s)"
              if r.cpu.server_pct else "")
    start, peak, end = r.rss_mib
    print(f"  memory   : server processes RSS {start:.0f} MiB at the start, {peak:.0f} MiB at most, {end:.0f} MiB "
          f"at the end (sampled every {SAMPLE_S:g} s); client processes {sum(x.rss_mib for x in r.results):.0f} MiB")
    if r.pg_connections is not None:
        mean, top = r.pg_connections.mean, r.pg_connections.max.astype(int)
        print(f"  database : {mean[0]:.1f} connections on average, {top[0]} at most ({top[1]} active at most, "
              f"{top[2]} idle in transaction at most), pg_stat_activity every {SAMPLE_S:g} s")
        print(f"  lock waits: {mean[3]:.1f} backends waiting on an advisory lock (the feeds' commit order) on "
              f"average, {top[3]} at most; {mean[4]:.1f} on a row lock on average, {top[4]} at most")
    feeds = feed_figures(r)
    ev = [f for f in r.feeds if f.name == "events"]
    dv = [f for f in r.feeds if f.name == "devices"]
    never = sum(not f.connects for f in ev + dv)
    print(f"  feeds    : {len(ev)} event + {len(dv)} device feeds held open ({sum(f.connects for f in ev + dv)} "
          f"connections incl. reconnects, {sum(f.drops for f in ev + dv)} dropped"
          + (f", {never} NEVER CONNECTED: their page did not load" if never else "")
          + f"), {sum(f.messages for f in ev):,} event messages received")
    print(f"  delay    : POST start → arrival on each event feed that connected: {_delay(feeds.delays)}; not arrived "
          f"{feeds.lost} of {feeds.expected:,} by the feeds' close (lost, or later than --grace)")
    if feeds.missing:
        print("  not arrived (s after the start: POST sent, answered, the feed's start once its cursor was found): " + ", ".join(
            f"{a:.1f}/{b:.1f}/{c:.1f}" for a, b, c in sorted(feeds.missing)[:10]))
    if r.servers > 1:
        for (a, b), (d, expected, lost) in sorted(feeds.by_pair.items()):
            print(f"    posted on {chr(65 + a)} → feed on {chr(65 + b)}: {_delay(d)}; lost {lost} of {expected:,}")
    if r.server_errors:
        print("  server tracebacks: " + ", ".join(f"{k}: {v}" for k, v in sorted(r.server_errors.items())))
    print(f"  limited by: {limit(r)}")
    busy = other_load_pct(r.cpu)
    print(f"  shared   : the bench's client processes run on the same {os.cpu_count()} cores as the servers and "
          f"the database" + (f"; other processes used {busy:.0f} % of a core (this machine is shared): CPU-bound "
                              f"figures are lower than on an idle machine" if busy >= 10 else ""))
    ok = True
    print("goals    :")
    for name, met, detail in goals(r, rows, feeds, ramp):
        ok &= met
        print(f"  {'met   ' if met else 'MISSED'} {name:26} {detail}")
    return ok


def print_header(args: argparse.Namespace) -> None:
    print("gridops bench: issue 17 load test (grid workers, street staff, command pages with think time)")
    print(machine_line())
    n_workers, n_staff, n_pages = personas(args.users)
    print(f"run      : {args.users} users ({n_workers} grid workers: sync every {args.sync_seconds:g} s, a report or "
          f"visit every {args.report_minutes:g} min on average, {args.visit_share:.0%} visits, photos on "
          f"{args.photo_share:.0%} of reports; {n_staff} street staff: an action every {args.staff_think:g} s; "
          f"{n_pages} command pages: 2 feeds, board every {args.board_seconds:g} s), demo --days {args.demo_days}, "
          f"seed {args.seed}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_header(args)
    verdicts: list[bool] = []
    _, failed = for_each_backend(args.backend, lambda backend, tmp: run_backend(backend, args, tmp),
                                       lambda r: verdicts.append(print_result(r, args)), "gridops-load")
    return 1 if failed or not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
