"""Jobs kept single by the database (server/database/singleton.py): while one process holds a job,
another gets False and skips its run (the sweep's CLI says so and sweeps nothing), or, for a
long-running job, waits as a hot standby until the holder is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from server.database.core import make_engine
from server.database.singleton import advisory_key, only_one, standby
from server.events import service as events_service
from server.events.schemas import EventCreate
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def engines(fresh_db_url: str) -> Iterator[Callable[[], Engine]]:
    """Engines of one database, as separate processes would have; disposed at the end."""
    made: list[Engine] = []

    def make() -> Engine:
        made.append(make_engine(fresh_db_url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def _gridops(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-m", "server.cli.main", *args], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "GRIDOPS_DATABASE_URL": url})
    assert run.returncode == 0, run.stderr
    return run


def _sweep(url: str) -> subprocess.CompletedProcess[str]:
    return _gridops(url, "events", "sweep")


def test_a_second_holder_is_refused_until_the_first_lets_go(engines) -> None:  # type: ignore[no-untyped-def]
    first, second = engines(), engines()
    with only_one(first, "events sweep") as held:
        assert held
        with only_one(second, "events sweep") as other:
            assert not other
        with only_one(second, "card sync") as different_job:
            assert different_job
    with only_one(second, "events sweep") as after:
        assert after


def test_the_sweep_skips_its_run_while_another_sweeps(fresh_db_url: str, engines) -> None:  # type: ignore[no-untyped-def]
    with only_one(engines(), "events sweep") as held:
        assert held
        assert "another process is running events sweep now" in _sweep(fresh_db_url).stdout
    run = _sweep(fresh_db_url)
    assert "sweep: " in run.stdout and "another" not in run.stdout


def test_the_sweep_command_marks_open_events(fresh_db_url: str, engines) -> None:  # type: ignore[no-untyped-def]
    """`gridops events sweep` on a database with an open event: the command loads every mapper (it
    once failed with NoReferencedTableError: event.reporter_id → user)."""
    with Session(engines()) as s:
        world = factories.event_world(s)
        events_service.create(db_session=s, reporter=world["users"]["worker_a"],
                              data=EventCreate(**factories.event_body()), now=NOW)
        s.commit()
    assert "sweep: " in _sweep(fresh_db_url).stdout


def test_the_rollup_command_skips_its_run_while_another_rolls_up_then_rolls_up(  # type: ignore[no-untyped-def]
        fresh_db_url: str, engines) -> None:
    with Session(engines()) as s:
        world = factories.event_world(s)
        events_service.create(db_session=s, reporter=world["users"]["worker_a"],
                              data=EventCreate(**factories.event_body()), now=NOW)
        s.commit()
    with only_one(engines(), "metrics rollup") as held:
        assert held
        assert "another process is running metrics rollup now" in _gridops(fresh_db_url, "metrics", "rollup").stdout
    assert "metrics rollup: 1 events rolled up" in _gridops(fresh_db_url, "metrics", "rollup").stdout
    assert "rollup matches the events" in _gridops(fresh_db_url, "metrics", "check-rollup").stdout


def test_a_standby_waits_until_the_holder_is_gone(engines) -> None:  # type: ignore[no-untyped-def]
    first, second = engines(), engines()
    stop, told = threading.Event(), []
    with only_one(first, "devices ingest") as held:
        assert held
        stop.set()  # a standby told to stop while it waits gets None
        with standby(second, "devices ingest", stop, retry_s=0.01, waiting=lambda: told.append(1)) as holding:
            assert holding is None and told == [1]
        stop.clear()
    with standby(second, "devices ingest", stop, retry_s=0.01) as holding:  # the holder left: it takes over
        assert holding is not None and holding()
        with only_one(first, "devices ingest") as other:
            assert not other


def test_the_holder_learns_when_its_lock_went_with_its_connection(fresh_db_url: str, engines) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL a session lock ends with its connection: the check says so, and a standby gets it."""
    if not fresh_db_url.startswith("postgresql"):
        pytest.skip("SQLite's flock lasts as long as the process")
    holder, killer = engines(), engines()
    with standby(holder, "devices ingest 1/2", threading.Event()) as holding:
        assert holding is not None and holding()
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                              "WHERE locktype = 'advisory' AND objid = :key"),
                         {"key": advisory_key("devices ingest 1/2")})
        assert not holding()
        with only_one(killer, "devices ingest 1/2") as taken:
            assert taken
