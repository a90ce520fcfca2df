"""The users kept in memory on PostgreSQL (server.user_cache): a change to a user row, made by any
process, empties every process's copy at once, so disabling a user or resetting a password still
stops their tokens at the next request; a read that a change overtook is not kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from server.auth import service as auth_service
from server.auth.enums import Role
from server.database.core import make_engine
from server.database.migrate import upgrade
from server.deps import get_session_scope, get_user_cache
from server.main import create_app
from server.user_cache import UserCache, for_engine
from tests import factories
from tests.conftest import NOW, PG_URL, fresh_database_url

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pg_maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One database of its own with real commits (users are named apart in each test)."""
    if not PG_URL:
        pytest.skip("PostgreSQL only (GRIDOPS_TEST_POSTGRES_URL): SQLite reads the user on every request")
    url = fresh_database_url("postgis", tmp_path_factory.mktemp("user_cache"), "gridops_user_cache")
    upgrade(url)
    engine = make_engine(url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def cache(pg_maker: sessionmaker[Session]) -> Iterator[UserCache]:
    c = UserCache(pg_maker.kw["bind"].url)
    deadline = time.monotonic() + 10
    while not c.listening:  # starts the LISTEN thread
        assert time.monotonic() < deadline, "the LISTEN connection never came up"
        time.sleep(0.02)
    yield c
    c.stop()


def _worker(maker: sessionmaker[Session], name: str) -> None:
    with maker() as s:
        factories.user(s, Role.grid_worker, username=name)
        s.commit()


def _read_and_keep(maker: sessionmaker[Session], cache: UserCache, username: str) -> None:
    """As a request does; again while the NOTIFY of the user's own creation may still arrive (it
    empties the cache, and a read it overtakes is not kept)."""
    deadline = time.monotonic() + 5
    while cache.get(username) is None:
        assert time.monotonic() < deadline, f"{username} never kept"
        generation = cache.generation()
        with maker() as s:
            user = auth_service.get_by_username(db_session=s, username=username)
        assert user is not None
        cache.put(user, generation)


def _eventually_none(cache: UserCache, username: str, within_s: float = 5.0) -> float:
    start = time.monotonic()
    while cache.get(username) is not None:
        assert time.monotonic() - start < within_s, f"{username} still cached {within_s} s after the change"
        time.sleep(0.01)
    return time.monotonic() - start


def test_every_database_but_an_in_memory_one_keeps_users(engine) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(for_engine(engine), UserCache)
    memory = make_engine("sqlite://")
    assert for_engine(memory) is None  # no other process can change it: nothing to hear, nothing kept
    memory.dispose()


@pytest.fixture
def sqlite_maker(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = fresh_database_url("sqlite", tmp_path, "gridops_user_cache")
    upgrade(url)
    engine = make_engine(url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def _cli(url: str, *args: str) -> None:
    env = {**os.environ, "GRIDOPS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "server.cli.main", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_sqlite_hears_a_change_in_another_process_at_the_next_lookup(sqlite_maker: sessionmaker[Session]) -> None:
    """`gridops users disable` beside the server on SQLite: its commit appends to the signal file,
    and the next lookup, in this process, finds it and reads the user again."""
    engine = sqlite_maker.kw["bind"]
    cache = for_engine(engine)
    assert cache is not None
    try:
        _worker(sqlite_maker, "nearworker")
        _read_and_keep(sqlite_maker, cache, "nearworker")
        assert cache.get("nearworker") is not None
        _cli(engine.url.render_as_string(hide_password=False), "users", "disable", "nearworker")
        assert cache.get("nearworker") is None  # at once: no wait, the lookup looks at the file first
        _read_and_keep(sqlite_maker, cache, "nearworker")
        kept = cache.get("nearworker")
        assert kept is not None and kept.is_active is False
    finally:
        cache.stop()


def test_sqlite_a_read_overtaken_by_another_process_is_dropped(sqlite_maker: sessionmaker[Session]) -> None:
    """A request read the user, another process disabled them, then the request keeps its stale
    row: the next lookup sees the signal and does not answer with it."""
    engine = sqlite_maker.kw["bind"]
    cache = for_engine(engine)
    assert cache is not None
    try:
        _worker(sqlite_maker, "sqlraced")
        assert cache.get("sqlraced") is None  # a lookup: the creation's own signal is seen and done with
        generation = cache.generation()
        with sqlite_maker() as s:
            stale = auth_service.get_by_username(db_session=s, username="sqlraced")
        _cli(engine.url.render_as_string(hide_password=False), "users", "disable", "sqlraced")
        assert stale is not None
        cache.put(stale, generation)  # nothing looked meanwhile: the generation did not move
        assert cache.get("sqlraced") is None
    finally:
        cache.stop()


def test_a_user_is_kept_as_a_copy_of_its_own(pg_maker: sessionmaker[Session], cache: UserCache) -> None:
    _worker(pg_maker, "kept")
    assert cache.get("kept") is None
    _read_and_keep(pg_maker, cache, "kept")
    first, second = cache.get("kept"), cache.get("kept")
    assert first is not None and second is not None and first is not second
    assert (first.username, first.role, first.is_active) == ("kept", Role.grid_worker.value, True)


def test_a_change_in_another_process_empties_the_cache_at_once(pg_maker: sessionmaker[Session],
                                                               cache: UserCache) -> None:
    """`gridops users disable` run beside the server: its commit's NOTIFY reaches this process."""
    _worker(pg_maker, "farworker")
    _read_and_keep(pg_maker, cache, "farworker")
    assert cache.get("farworker") is not None
    env = {**os.environ, "GRIDOPS_DATABASE_URL": pg_maker.kw["bind"].url.render_as_string(hide_password=False),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "server.cli.main", "users", "disable", "farworker"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    _eventually_none(cache, "farworker", within_s=2.0)
    _read_and_keep(pg_maker, cache, "farworker")
    kept = cache.get("farworker")
    assert kept is not None and kept.is_active is False


def test_a_read_overtaken_by_a_change_is_not_kept(pg_maker: sessionmaker[Session], cache: UserCache) -> None:
    _worker(pg_maker, "raced")
    _read_and_keep(pg_maker, cache, "raced")  # the creation's NOTIFY has come
    generation = cache.generation()  # a request starts reading the user …
    with pg_maker() as s:
        stale = auth_service.get_by_username(db_session=s, username="raced")
    with pg_maker() as s:  # … an administrator disables them meanwhile …
        auth_service.set_active(db_session=s, user=auth_service.get_by_username(db_session=s, username="raced"),
                                active=False, actor=None, now=NOW)
        s.commit()
    assert stale is not None
    cache.put(stale, generation)  # … and the request's stale row must not stay
    assert cache.get("raced") is None


def test_tokens_stop_at_once_through_the_cache(pg_maker: sessionmaker[Session], cache: UserCache) -> None:
    """The request path: the first request reads and keeps the user, the next ones are answered from
    memory; a password reset (another session, this process) ends the token at the next request."""
    _worker(pg_maker, "tokened")
    with pg_maker() as s:
        user = auth_service.get_by_username(db_session=s, username="tokened")
        assert user is not None
        user.must_change_password = False
        s.commit()
    app = create_app()
    app.dependency_overrides[get_user_cache] = lambda: cache
    app.dependency_overrides[get_session_scope] = lambda: pg_maker.begin
    headers = factories.auth_headers(user)
    with TestClient(app) as client:
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
        assert cache.get("tokened") is not None  # kept by the request
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
        with pg_maker() as s:
            target = auth_service.get_by_username(db_session=s, username="tokened")
            assert target is not None
            auth_service.set_password(db_session=s, user=target, hashed=target.hashed_password,
                                      now=NOW, temporary=True)
            s.commit()
        ended = client.get("/api/v1/auth/me", headers=headers)
    assert ended.status_code == 401 and ended.json()["error"]["code"] == "token_revoked", ended.text
