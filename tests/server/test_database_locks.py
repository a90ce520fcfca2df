"""SQLite's one write lock: reads never wait for it, writes hold it briefly, and a write that cannot
get it answers 503 with Retry-After instead of a bare 500 (issue "Twenty users and the embedded
default already fails"). Against real servers and real commits, on both back ends where it applies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.database.core import (
    ReadsFirst,
    WriteQueue,
    is_busy,
    make_engine,
    read_sessions,
    write_once_sessions,
)
from server.database.migrate import upgrade
from server.rentals import service as rentals
from server.rentals.models import PiiAccess
from server.rentals.schemas import RentalCreate, TenantCreate
from tests import factories
from tests.conftest import NOW, fresh_database_url

BUSY_MS = 60_000  # the busy timeout of the reads test: a read or login that waited would take a minute
NO_WAIT_S = 20.0  # generous for a loaded machine, and still a third of that minute


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = fresh_database_url("spatialite", tmp_path, "locks")
    upgrade(url)
    return url


def _world(url: str) -> dict[str, object]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        world = factories.event_world(s)
        s.commit()
    engine.dispose()
    return world


@contextmanager
def _writer_holding_the_lock(url: str) -> Iterator[None]:
    """Another process's write transaction, open: on SQLite it holds the write lock (BEGIN
    IMMEDIATE); on PostgreSQL it holds row locks on every grid."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.begin()
            conn.execute(text("UPDATE grid SET name = name"))
            yield
            conn.rollback()
    finally:
        engine.dispose()


def _timed(call):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    response = call()
    return response, time.monotonic() - t0


def test_reads_and_login_do_not_wait_for_a_writer(fresh_db_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    world = _world(fresh_db_url)
    base = live_server(fresh_db_url, GRIDOPS_SQLITE_BUSY_TIMEOUT_MS=str(BUSY_MS))
    admin = world["users"]["admin"]  # type: ignore[index]
    h = factories.auth_headers(admin)
    with httpx.Client(base_url=base, timeout=BUSY_MS / 1000 + 30) as c, _writer_holding_the_lock(fresh_db_url):
        for call in (lambda: c.get("/api/v1/events", headers=h), lambda: c.get("/api/v1/grids", headers=h),
                     lambda: c.get("/api/v1/events/export", params={"format": "csv"}, headers=h),
                     lambda: c.get("/api/v1/auth/me", headers=h),
                     lambda: c.post("/api/v1/auth/token", data={"username": admin.username,
                                                                "password": factories.PASSWORD})):
            r, took = _timed(call)
            assert r.status_code == 200, (r.request.url, r.text)
            assert took < NO_WAIT_S, (r.request.url, took)


def test_a_write_that_cannot_get_the_lock_is_503_with_retry_after(sqlite_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    world = _world(sqlite_url)
    base = live_server(sqlite_url, GRIDOPS_SQLITE_BUSY_TIMEOUT_MS="300")
    h = factories.auth_headers(world["users"]["worker_a"])  # type: ignore[index]
    body = factories.event_body()
    with httpx.Client(base_url=base, timeout=30) as c:
        with _writer_holding_the_lock(sqlite_url):
            r, took = _timed(lambda: c.post("/api/v1/events", json=body, headers=h))
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1"
        error = r.json()["error"]
        assert error["code"] == "database_busy" and error["detail"] == {"retry_after": 1}
        assert error["message_zh"] and error["message"]
        assert took < 20  # the holder never lets go while the request runs: waiting for it would never end
        again = c.post("/api/v1/events", json=body, headers=h)  # nothing was saved: the retry creates it
        assert again.status_code == 201, again.text


def test_read_sessions_skip_the_lock_and_write_sessions_read_after_their_commit(sqlite_url: str) -> None:
    world = _world(sqlite_url)
    engine = make_engine(sqlite_url, busy_timeout_ms=300)
    user_id = world["users"]["admin"].id  # type: ignore[index]
    with _writer_holding_the_lock(sqlite_url):
        with read_sessions(engine)() as s:
            t0 = time.monotonic()
            assert s.get(factories.User, user_id) is not None
            assert time.monotonic() - t0 < 0.2
        with write_once_sessions(engine)() as s, pytest.raises(OperationalError) as caught:
            s.get(factories.User, user_id)
        assert is_busy(caught.value)
    with write_once_sessions(engine)() as s:
        s.get(factories.User, user_id).full_name = "改名"  # type: ignore[union-attr]
        s.commit()  # the write is done: what the response needs is read without the lock
        with _writer_holding_the_lock(sqlite_url):
            t0 = time.monotonic()
            assert s.scalar(select(factories.User.full_name).where(factories.User.id == user_id)) == "改名"
            assert time.monotonic() - t0 < 0.2
    engine.dispose()


def test_reads_first_reads_without_the_lock_then_writes_with_it(sqlite_url: str) -> None:
    """A report's reads (ReadsFirst) run while another process holds the write lock; its writes then
    take the lock: they wait for the holder (busy) and, once it is gone, go through."""
    world = _world(sqlite_url)
    engine = make_engine(sqlite_url, busy_timeout_ms=300)
    user_id = world["users"]["admin"].id  # type: ignore[index]
    with write_once_sessions(engine)() as s:
        with _writer_holding_the_lock(sqlite_url):
            phase = ReadsFirst(s)
            t0 = time.monotonic()
            user = s.get(factories.User, user_id)
            assert user is not None and time.monotonic() - t0 < 0.2
            with pytest.raises(OperationalError) as caught:
                phase.writes()
            assert is_busy(caught.value)
        s.rollback()
        phase = ReadsFirst(s)
        user = s.get(factories.User, user_id)
        phase.writes()
        user.full_name = "改名"  # type: ignore[union-attr]
        s.commit()
    with read_sessions(engine)() as s:
        assert s.scalar(select(factories.User.full_name).where(factories.User.id == user_id)) == "改名"
    engine.dispose()


def test_the_audited_pii_read_writes_its_log_through_a_write_session(fresh_db_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    world = _world(fresh_db_url)
    engine = make_engine(fresh_db_url)
    with Session(engine) as s:
        c = factories.gk_square(0, 0).centroid
        rental = rentals.create_rental(db_session=s, now=NOW, rental_in=RentalCreate(
            address="黄埔东路1号", landlord_name="陈大文", landlord_phone="13800138000", lon=c.x, lat=c.y, rooms=4))
        tenant = rentals.register_tenant(db_session=s, rental=rental, actor="admin", now=NOW, tenant_in=TenantCreate(
            name="张三", id_number="11010519491231002X", phone="13900139000"))
        s.commit()
        tenant_id = tenant.id
    base = live_server(fresh_db_url)
    r = httpx.get(f"{base}/api/v1/rentals/tenants/{tenant_id}/pii", timeout=30,
                  headers=factories.auth_headers(world["users"]["admin"]))  # type: ignore[index]
    assert r.status_code == 200 and r.json()["id_number"] == "11010519491231002X", r.text
    with Session(engine) as s:
        assert s.scalars(select(PiiAccess.record_id)).all() == [tenant_id]
    engine.dispose()


def test_writers_of_one_process_queue_instead_of_timing_out(sqlite_url: str) -> None:
    """SQLite's busy handler lets newcomers overtake a waiter (8 of 360 writes timed out here);
    queued in order, each waits for the writers ahead of it only."""
    engine = make_engine(sqlite_url, busy_timeout_ms=1000)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE tally (n INTEGER)")
    waits: list[float] = []
    failures: list[BaseException] = []

    def write(_: int) -> None:
        for _ in range(30):
            t0 = time.monotonic()
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("INSERT INTO tally VALUES (1)")
                    time.sleep(0.005)  # a write transaction of a few milliseconds
            except OperationalError as exc:
                failures.append(exc)
            waits.append(time.monotonic() - t0)

    with ThreadPoolExecutor(12) as pool:  # fewer than the pool's 15 connections
        list(pool.map(write, range(12)))
    assert failures == []
    assert max(waits) < 1.0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM tally").scalar() == 360
    engine.dispose()


def test_write_queue_hands_over_in_arrival_order() -> None:
    queue, order = WriteQueue(), []
    assert queue.acquire(timeout=0)

    def wait_turn(name: str) -> None:
        assert queue.acquire(timeout=10)
        order.append(name)
        queue.release()

    threads = []
    for name in ("first", "second", "third"):
        threads.append(threading.Thread(target=wait_turn, args=(name,)))
        threads[-1].start()
        while len(queue._waiters) < len(threads):  # each in line before the next comes
            time.sleep(0.001)
    assert not queue.acquire(timeout=0.05)  # a latecomer times out and leaves the line
    assert len(queue._waiters) == 3
    queue.release()
    for t in threads:
        t.join(timeout=10)
    assert order == ["first", "second", "third"]
    assert queue.acquire(timeout=0)  # free again
