"""The live feeds' shared reader (server.feed_hub) against a real server: many streams of several
territories opened while others write get exactly the rows the paged `/events/changes` gives their
user (the territory's SQL rule), in cursor order, each once, whatever backlog they start from; a
disabled user's stream ends; the reader's reads grow with territories, not streams; on PostgreSQL
it is woken by NOTIFY, and again after its LISTEN connection was cut; `gridops serve` stopping cuts
its open feeds instead of waiting for them (tests/server/test_feed_hub_reader.py: the reader alone)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from mobile.api import ApiClient
from server.cli.main import SHUTDOWN_GRACE_S
from server.database.core import make_engine
from server.database.listen import libpq_url
from server.database.migrate import upgrade
from server.deps import session_scope
from server.events import service
from server.events.models import EventHistory
from server.events.schemas import EventCreate
from server.events.views import FEED
from server.feed_hub import hub
from tests import factories
from tests.conftest import NOW, fresh_database_url

ROOT = Path(__file__).resolve().parents[2]

WRITERS = {"worker_a": (0, 0), "worker_c": (5, 5), "street1": (1, 0), "command": (0, 0), "street2": (5, 5)}
EVENTS_EACH = 4
BACKLOG = 520  # more than one page (server.feed_hub.PAGE) of changes before any stream opens
FEED_S = 8.0  # the streams end by themselves after this, and the tests wait for them: none outlives its server
SHORT_S = 4.0


class Stream:
    """GET /events/feed in a thread: each message's (id, data), until the stream ends."""

    def __init__(self, base: str, user: Any, params: dict[str, Any], headers: dict[str, str] | None = None,
                 seconds: float = FEED_S) -> None:
        self.messages: list[tuple[int, dict[str, Any]]] = []
        self.arrived: list[float] = []
        self.status: list[int] = []
        self.opened = threading.Event()
        self._args = (base, user, {"seconds": seconds, "poll": 0.2, **params}, headers or {})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        base, user, params, headers = self._args
        with httpx.Client(base_url=base, timeout=FEED_S + 10) as c, c.stream(
                "GET", "/api/v1/events/feed", params=params,
                headers={**factories.auth_headers(user), **headers}) as r:
            self.status.append(r.status_code)
            self.opened.set()
            cursor = None
            for line in r.iter_lines():
                if line.startswith("id: "):
                    cursor = int(line[4:])
                elif line.startswith("data: "):
                    assert cursor is not None
                    self.messages.append((cursor, json.loads(line[6:])))
                    self.arrived.append(time.monotonic())

    def ids(self) -> list[int]:
        return [c for c, _ in self.messages]

    def ended(self) -> bool:
        self.thread.join(FEED_S + 10)
        return not self.thread.is_alive()

    def wait_for(self, n: int, timeout: float = 8.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.messages) >= n


def _world(url: str, backlog: int = 0) -> dict[str, Any]:
    """event_world, and `backlog` changes on four events of both streets, before the server starts."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        users: dict[str, Any] = factories.event_world(s)["users"]  # type: ignore[assignment]
        if backlog:
            events = [service.create(db_session=s, reporter=users["admin"], now=NOW, data=EventCreate.model_validate(
                factories.event_body(factories.gk_square(*cell), reported_at=NOW.isoformat())))[0]
                for cell in ((0, 0), (1, 0), (5, 5), (5, 5))]
            s.add_all(EventHistory(event_id=events[i % 4].id, kind="warning", from_state=events[i % 4].state,
                                   to_state=events[i % 4].state, at=NOW) for i in range(backlog))
        s.commit()
    engine.dispose()
    return users


def _changes(base: str, user: Any) -> list[int]:
    """Every change the user may see, by the paged endpoint (the same territory rule, in SQL)."""
    with closing(ApiClient(base, factories.token(user), timeout=30)) as api:
        return [ch["cursor"] for ch in api.all_changes(0)[0]]


def _write(base: str, users: dict[str, Any], name: str, count: int = EVENTS_EACH) -> list[int]:
    with httpx.Client(base_url=base, timeout=30, headers=factories.auth_headers(users[name])) as c:
        statuses = [c.post("/api/v1/events", json=factories.event_body(factories.gk_square(*WRITERS[name]))).status_code
                    for _ in range(count)]
    return statuses


def test_streams_opened_among_writes_get_their_territory_each_change_once_in_order(
        fresh_db_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    users = _world(fresh_db_url, backlog=BACKLOG)
    base = live_server(fresh_db_url)
    readers = ["admin", "street1", "street2", "worker_a", "worker_c", "auditor"]
    streams: list[tuple[str, int, Stream]] = []
    rng = random.Random(17)

    def open_streams() -> None:  # while the writers write: some from the start, some resuming, some from now
        for i in range(18):
            name = readers[i % len(readers)]
            first = rng.choice([0, rng.randrange(BACKLOG)])
            resume = {"Last-Event-ID": str(first)} if i % 2 else {}  # wins over ?cursor=0
            streams.append((name, first, Stream(base, users[name], {"cursor": 0 if resume else first}, resume)))
            time.sleep(0.05)

    with ThreadPoolExecutor(len(WRITERS) + 1) as pool:
        opening = pool.submit(open_streams)
        statuses = [s for batch in pool.map(lambda n: _write(base, users, n), WRITERS) for s in batch]
        opening.result()
    assert set(statuses) == {201}
    expected = {name: _changes(base, users[name]) for name in readers}
    assert len(expected["admin"]) == BACKLOG + 4 + len(WRITERS) * EVENTS_EACH
    assert 0 < len(expected["street2"]) < len(expected["street1"]) < len(expected["admin"])  # territories differ
    for name, first, stream in streams:
        assert stream.ended() and stream.status == [200]
        want = [i for i in expected[name] if i > first]
        assert stream.ids() == want, f"{name} from {first}: {len(stream.ids())} messages, {len(want)} expected"
    # the messages are today's: id is the cursor, event the kind, data a Change
    cursor, data = streams[0][2].messages[-1]
    assert data["cursor"] == cursor and set(data) >= {"event_uuid", "kind", "to_state", "at"}


def test_a_disabled_users_stream_ends_and_the_others_go_on(fresh_db_url: str, live_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("server.feed_hub.RECHECK_S", 0.5)
    users = _world(fresh_db_url)
    base = live_server(fresh_db_url)
    worker, admin = (Stream(base, users[name], {}, seconds=SHORT_S * 2) for name in ("worker_a", "admin"))
    assert worker.opened.wait(10) and admin.opened.wait(10)
    with httpx.Client(base_url=base, timeout=10, headers=factories.auth_headers(users["admin"])) as c:
        assert c.post(f"/api/v1/users/{users['worker_a'].id}/disable").status_code == 200
    worker.thread.join(5.0)  # RECHECK_S and a wake-up (SQLite: a poll; PostgreSQL: at most FALLBACK_S)
    assert not worker.thread.is_alive(), "the disabled worker's stream is still open"
    assert _write(base, users, "street1", 1) == [201]
    assert admin.wait_for(1) and worker.messages == []
    assert admin.ended()


def test_the_reader_reads_once_per_territory_not_per_stream(fresh_db_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    users = _world(fresh_db_url)
    base = live_server(fresh_db_url)
    feeds = hub(FEED, session_scope)
    streams = [Stream(base, users["admin" if i % 4 else "street1"], {}, seconds=SHORT_S) for i in range(40)]
    assert all(s.opened.wait(10) for s in streams)
    time.sleep(0.5)  # every stream has joined its group
    reads, wakes = feeds.reads, feeds.wakes
    assert _write(base, users, "street1", 3) == [201] * 3
    assert all(s.wait_for(3) for s in streams)
    assert all(len(s.ids()) == 3 == len(set(s.ids())) for s in streams)
    woke = feeds.wakes - wakes
    # each wake-up: the largest cursor, then (when it moved) one read per territory: two here
    assert woke >= 1 and feeds.reads - reads <= woke + 2 * woke + 1  # +1: a user recheck, if one fell due
    assert all(s.ended() for s in streams)


def test_notify_wakes_the_reader_and_it_listens_again_after_its_connection_is_cut(
        fresh_db_url: str, live_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if fresh_db_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite polls")
    monkeypatch.setattr("server.feed_hub.FALLBACK_S", 120.0)  # only a notification can deliver in time
    users = _world(fresh_db_url)
    base = live_server(fresh_db_url)
    stream = Stream(base, users["admin"], {}, seconds=SHORT_S * 3)
    assert stream.opened.wait(10)
    assert _write(base, users, "street1", 1) == [201] and stream.wait_for(1)
    admin = create_engine(libpq_url(make_engine(fresh_db_url).url).replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    listening = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' "
                     "AND application_name = 'gridops-feed-listen'")  # not the user cache's (server.user_cache)
    with admin.connect() as conn:
        pids = conn.execute(listening).scalars().all()
        assert len(pids) == 1
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
        deadline = time.monotonic() + 10
        while conn.execute(listening).scalars().all() in ([], pids) and time.monotonic() < deadline:
            time.sleep(0.1)
    admin.dispose()
    assert _write(base, users, "street1", 1) == [201] and stream.wait_for(2)
    assert stream.ended()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_stopping_server_cuts_its_live_feeds_instead_of_waiting_for_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`gridops serve` as deployed: SIGTERM with a feed open for ten minutes exits within its grace."""
    url = fresh_database_url("spatialite", tmp_path, "stopping")
    upgrade(url)
    users = _world(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "server.cli.main", "serve", "--port", str(port)],
                              env={**os.environ, "GRIDOPS_DATABASE_URL": url}, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{base}/api/v1/health"):
            assert server.poll() is None and time.monotonic() < deadline, "gridops serve did not start"
            time.sleep(0.1)
        api = ApiClient(base)
        token = api.login(users["admin"].username, factories.PASSWORD)  # the server's clock, not the suite's
        api.close()
        with httpx.Client(base_url=base, timeout=SHUTDOWN_GRACE_S + 20) as c, c.stream(
                "GET", "/api/v1/events/feed", params={"seconds": 600}, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status_code == 200
            server.send_signal(signal.SIGTERM)
            with pytest.raises(httpx.RemoteProtocolError):  # cut (not a read timeout): the browser reconnects
                for _ in r.iter_lines():
                    pass
        assert server.wait(SHUTDOWN_GRACE_S + 20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    finally:
        server.kill()
        server.wait()
