"""PostgreSQL connections are pinged when they sat idle in the pool, not at every checkout (a round
trip and CPU twice a request, bench/bench_request_cpu.py), and a dead idle one is still replaced
before a request sees it (server.database.core.ping_when_idle)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import Engine, make_url, text

from server.database.core import PING_AFTER_IDLE_S, make_engine
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="the pool's ping is PostgreSQL's (set GRIDOPS_TEST_POSTGRES_URL)")


def _counting_pings(engine: Engine) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection):  # type: ignore[no-untyped-def]
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


def test_a_connection_used_just_now_is_not_pinged() -> None:
    engine = make_engine(str(PG_URL))
    pings = _counting_pings(engine)
    try:
        for _ in range(10):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        assert len(pings) == 1  # the new connection, once; then reused within the second
    finally:
        engine.dispose()


def test_a_dead_idle_connection_is_replaced_not_returned() -> None:
    engine = make_engine(str(PG_URL))
    pings = _counting_pings(engine)
    try:
        with engine.connect() as conn:
            dead = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        raw = make_url(str(PG_URL)).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(raw) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
        time.sleep(PING_AFTER_IDLE_S + 0.1)
        with engine.connect() as conn:
            alive = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert alive != dead and len(pings) >= 2
    finally:
        engine.dispose()
