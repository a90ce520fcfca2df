"""Fixtures: every database test runs on SpatiaLite and, when configured, on PostGIS.

Each test runs inside a transaction that is rolled back (services may commit: with
join_transaction_mode="create_savepoint" that only releases a savepoint).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext

os.environ.setdefault("GRIDOPS_BCRYPT_ROUNDS", "4")  # fast hashes in tests; before settings are read
os.environ.setdefault("GRIDOPS_SECRET_KEY", "test-secret-key-with-at-least-32-bytes!")
os.environ.setdefault("GRIDOPS_PII_KEY", "Z3JpZG9wcy10ZXN0LXBpaS1rZXktMzItYnl0ZXMhISE=")  # a Fernet key (32 bytes)
os.environ.setdefault("GRIDOPS_INDICATOR_CACHE_S", "0")  # a test sees what it just wrote (test_indicator_cache: on)
os.environ.setdefault("GRIDOPS_MEDIA_ROOT", tempfile.mkdtemp(prefix="gridops-media-"))

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from starlette.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from server.database.core import make_engine
from server.deps import get_db, get_read_db, get_session_scope, get_user_cache, get_write_db
from server.database.migrate import upgrade
from server.main import create_app

PG_URL = os.environ.get("GRIDOPS_TEST_POSTGRES_URL")

# The suite's "today": every test runs on this clock (ticking from here), whatever the real date, so
# no test depends on the day it runs (CI runs the suite again 400 days ahead to prove it). A Friday,
# 10:00 in Asia/Shanghai, in an ordinary working week of November 2026.
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def subprocess_now() -> datetime:
    """The clock of a process the tests start (the CLI, the ingester): the real one, moved as far
    ahead as ./dev test's second pass moves it (tests/clock_ahead), not the suite's frozen one."""
    ahead = timedelta(days=int(os.environ.get("GRIDOPS_TEST_DAYS_AHEAD") or 0))
    return time_machine.escape_hatch.datetime.datetime.now(UTC) + ahead


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield
BACKENDS = ["spatialite"] + (["postgis"] if PG_URL else [])


def _fresh_postgis(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "postgis":
        assert PG_URL
        url, eng = PG_URL, _fresh_postgis(PG_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        eng = make_engine(url)
    with eng.begin() as conn:
        upgrade(url, connection=conn)
    yield eng
    eng.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()


def use_session(application, db_session: Session):  # type: ignore[no-untyped-def]
    """Every session the app would open is the test's own (rolled back at the end)."""
    for dependency in (get_db, get_read_db, get_write_db):
        application.dependency_overrides[dependency] = lambda: db_session
    application.dependency_overrides[get_session_scope] = lambda: (lambda: nullcontext(db_session))
    application.dependency_overrides[get_user_cache] = lambda: None  # users read in the test's session
    return application


@pytest.fixture
def app(db_session: Session):  # type: ignore[no-untyped-def]
    return use_session(create_app(), db_session)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """set(GRIDOPS_X="…", GRIDOPS_Y=None): settings re-read with these variables (None: unset) for one test."""
    from server.config import get_settings

    def set_env(**env: str | None) -> None:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


def fresh_database_url(backend: str, tmp_path, name: str) -> str:  # type: ignore[no-untyped-def]
    """An empty database of its own, for tests that need real commits from several connections."""
    if backend == "postgis":
        assert PG_URL
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        name = f"{make_url(PG_URL).database}_{name}"[:63]  # two suites on one cluster never share one
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / (name + '.db')}"


@pytest.fixture(params=BACKENDS)
def fresh_db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = fresh_database_url(request.param, tmp_path, f"gridops_{request.node.name.split('[')[0][-40:]}".lower())
    upgrade(url)
    return url


@pytest.fixture
def live_server(settings_env: Callable[..., None]) -> Iterator[Callable[..., str]]:
    """start(database_url, GRIDOPS_X="…") → base URL of the real app (no dependency overrides: real
    sessions, real commits) served by uvicorn in a thread on a free loopback port. Stopped, and the
    process's engine and session makers reset, at the end of the test."""
    import uvicorn

    from server.cli.main import SHUTDOWN_GRACE_S
    from server.database import core

    caches = (core.get_engine, core.get_direct_engine, core.get_sessionmaker, core.get_read_sessionmaker,
              core.get_write_once_sessionmaker)
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def reset() -> None:
        for engine in (core.get_engine, core.get_direct_engine):
            if engine.cache_info().currsize:
                engine().dispose()
        for cache in caches:
            cache.cache_clear()

    def start(database_url: str, **env: str) -> str:
        assert not servers, "one live server per test: the process has one engine"
        settings_env(GRIDOPS_DATABASE_URL=database_url, **env)
        reset()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                                timeout_graceful_shutdown=SHUTDOWN_GRACE_S))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
    reset()
